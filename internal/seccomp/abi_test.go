package seccomp

import (
	"testing"
	"unsafe"
)

// ioctlSize extracts the argument size encoded in an ioctl request number
// (_IOC_SIZE, valid for the asm-generic encoding used by x86 and arm64).
func ioctlSize(req uint) uintptr { return uintptr(req>>16) & 0x3fff }

func TestStructSizes(t *testing.T) {
	tests := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"Data", unsafe.Sizeof(Data{}), 64},
		{"Notif", unsafe.Sizeof(Notif{}), 80},
		{"NotifResp", unsafe.Sizeof(NotifResp{}), 24},
		{"NotifAddFD", unsafe.Sizeof(NotifAddFD{}), 24},
		{"NotifSizes", unsafe.Sizeof(NotifSizes{}), 6},
		{"Notif vs SECCOMP_IOCTL_NOTIF_RECV", unsafe.Sizeof(Notif{}), ioctlSize(ioctlNotifRecv)},
		{"NotifResp vs SECCOMP_IOCTL_NOTIF_SEND", unsafe.Sizeof(NotifResp{}), ioctlSize(ioctlNotifSend)},
		{"id vs SECCOMP_IOCTL_NOTIF_ID_VALID", unsafe.Sizeof(uint64(0)), ioctlSize(ioctlNotifIDValid)},
		{"NotifAddFD vs SECCOMP_IOCTL_NOTIF_ADDFD", unsafe.Sizeof(NotifAddFD{}), ioctlSize(ioctlNotifAddFD)},
		{"flags vs SECCOMP_IOCTL_NOTIF_SET_FLAGS", unsafe.Sizeof(uint64(0)), ioctlSize(ioctlNotifSetFlags)},
		{"Data.Args offset", unsafe.Offsetof(Data{}.Args), 16},
		{"Notif.Data offset", unsafe.Offsetof(Notif{}.Data), 16},
		{"NotifResp.Error offset", unsafe.Offsetof(NotifResp{}.Error), 16},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: size %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestKernelNotifSizes(t *testing.T) {
	s, err := GetNotifSizes()
	if err != nil {
		t.Skipf("SECCOMP_GET_NOTIF_SIZES: %v", err)
	}
	t.Logf("kernel sizes: %+v", s)
	// RECV and SEND encode the structure sizes in their request numbers,
	// so a kernel with different sizes would be a different ABI.
	tests := []struct {
		name         string
		kernel, ours uintptr
	}{
		{"seccomp_notif", uintptr(s.Notif), unsafe.Sizeof(Notif{})},
		{"seccomp_notif_resp", uintptr(s.NotifResp), unsafe.Sizeof(NotifResp{})},
		{"seccomp_data", uintptr(s.Data), unsafe.Sizeof(Data{})},
	}
	for _, tt := range tests {
		if tt.kernel != tt.ours {
			t.Errorf("%s: kernel size %d, ours %d", tt.name, tt.kernel, tt.ours)
		}
	}
}

func TestIoctlNumbersAreArchIndependent(t *testing.T) {
	// The asm-generic encoding, as on x86 and arm64: _IOWR('!', 0, ...) etc.
	ioc := func(dir, nr, size uint) uint { return dir<<30 | size<<16 | '!'<<8 | nr }
	const w, rw = 1, 3
	tests := []struct {
		name string
		got  uint
		want uint
	}{
		{"RECV", ioctlNotifRecv, ioc(rw, 0, 80)},
		{"SEND", ioctlNotifSend, ioc(rw, 1, 24)},
		{"ID_VALID", ioctlNotifIDValid, ioc(w, 2, 8)},
		{"ADDFD", ioctlNotifAddFD, ioc(w, 3, 24)},
		{"SET_FLAGS", ioctlNotifSetFlags, ioc(w, 4, 8)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("SECCOMP_IOCTL_NOTIF_%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}
