package seccomp

// legacy32IdentitySyscalls are the identity-changing calls whose numbers
// i386 and 32-bit ARM share (both keep the original Linux numbering):
// execve, set*id with 16- and 32-bit ids, setgroups and capset.
var legacy32IdentitySyscalls = []int{
	11,  // execve
	23,  // setuid
	46,  // setgid
	70,  // setreuid
	71,  // setregid
	81,  // setgroups
	138, // setfsuid
	139, // setfsgid
	164, // setresuid
	170, // setresgid
	185, // capset
	203, // setreuid32
	204, // setregid32
	206, // setgroups32
	208, // setresuid32
	210, // setresgid32
	213, // setuid32
	214, // setgid32
	215, // setfsuid32
	216, // setfsgid32
}
