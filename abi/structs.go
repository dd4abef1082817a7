package abi

import "encoding/binary"

var le = binary.LittleEndian

// Sembuf is struct sembuf: one operation of a semop call.
type Sembuf struct {
	SemNum uint16 // index of the semaphore in its set
	SemOp  int16  // >0 add, <0 wait until it can subtract, 0 wait for zero
	SemFlg int16  // IPC_NOWAIT | SEM_UNDO
}

// SembufSize is sizeof(struct sembuf).
const SembufSize = 6

// Unmarshal decodes b[:SembufSize].
func (s *Sembuf) Unmarshal(b []byte) {
	_ = b[SembufSize-1]
	s.SemNum = le.Uint16(b[0:])
	s.SemOp = int16(le.Uint16(b[2:]))
	s.SemFlg = int16(le.Uint16(b[4:]))
}

// Marshal encodes s into b[:SembufSize].
func (s *Sembuf) Marshal(b []byte) {
	_ = b[SembufSize-1]
	le.PutUint16(b[0:], s.SemNum)
	le.PutUint16(b[2:], uint16(s.SemOp))
	le.PutUint16(b[4:], uint16(s.SemFlg))
}

// UnmarshalSembufs decodes len(dst) consecutive sembufs from b.
func UnmarshalSembufs(dst []Sembuf, b []byte) {
	if len(dst) > 0 {
		_ = b[len(dst)*SembufSize-1]
	}
	for i := range dst {
		dst[i].Unmarshal(b[i*SembufSize:])
	}
}

// Timespec is struct __kernel_timespec (64-bit seconds and nanoseconds).
type Timespec struct {
	Sec  int64
	Nsec int64
}

// TimespecSize is sizeof(struct __kernel_timespec).
const TimespecSize = 16

// Unmarshal decodes b[:TimespecSize].
func (t *Timespec) Unmarshal(b []byte) {
	_ = b[TimespecSize-1]
	t.Sec = int64(le.Uint64(b[0:]))
	t.Nsec = int64(le.Uint64(b[8:]))
}

// Marshal encodes t into b[:TimespecSize].
func (t *Timespec) Marshal(b []byte) {
	_ = b[TimespecSize-1]
	le.PutUint64(b[0:], uint64(t.Sec))
	le.PutUint64(b[8:], uint64(t.Nsec))
}

// IPCPerm is struct ipc64_perm: ownership and mode of an IPC object.
type IPCPerm struct {
	Key  int32
	UID  uint32 // owner
	GID  uint32
	CUID uint32 // creator
	CGID uint32
	Mode uint32 // __kernel_mode_t is 32 bits on x86_64
	Seq  uint16 // sequence number of the slot
}

// SemidDS is struct semid64_ds as x86_64 lays it out (104 bytes).
type SemidDS struct {
	Perm  IPCPerm
	Otime int64  // time of the last successful semop
	Ctime int64  // time of creation or the last semctl change
	Nsems uint64 // number of semaphores in the set
}

// SemidDSSize is sizeof(struct semid64_ds) on x86_64.
const SemidDSSize = 104

// Byte offsets inside struct semid64_ds.
const (
	offPermKey  = 0
	offPermUID  = 4
	offPermGID  = 8
	offPermCUID = 12
	offPermCGID = 16
	offPermMode = 20
	offPermSeq  = 24
	offOtime    = 48
	offCtime    = 64
	offNsems    = 80
)

// Marshal encodes d into b[:SemidDSSize]; padding and unused fields are zero.
func (d *SemidDS) Marshal(b []byte) {
	b = b[:SemidDSSize]
	clear(b)
	le.PutUint32(b[offPermKey:], uint32(d.Perm.Key))
	le.PutUint32(b[offPermUID:], d.Perm.UID)
	le.PutUint32(b[offPermGID:], d.Perm.GID)
	le.PutUint32(b[offPermCUID:], d.Perm.CUID)
	le.PutUint32(b[offPermCGID:], d.Perm.CGID)
	le.PutUint32(b[offPermMode:], d.Perm.Mode)
	le.PutUint16(b[offPermSeq:], d.Perm.Seq)
	le.PutUint64(b[offOtime:], uint64(d.Otime))
	le.PutUint64(b[offCtime:], uint64(d.Ctime))
	le.PutUint64(b[offNsems:], d.Nsems)
}

// Unmarshal decodes b[:SemidDSSize].
func (d *SemidDS) Unmarshal(b []byte) {
	_ = b[SemidDSSize-1]
	d.Perm.Key = int32(le.Uint32(b[offPermKey:]))
	d.Perm.UID = le.Uint32(b[offPermUID:])
	d.Perm.GID = le.Uint32(b[offPermGID:])
	d.Perm.CUID = le.Uint32(b[offPermCUID:])
	d.Perm.CGID = le.Uint32(b[offPermCGID:])
	d.Perm.Mode = le.Uint32(b[offPermMode:])
	d.Perm.Seq = le.Uint16(b[offPermSeq:])
	d.Otime = int64(le.Uint64(b[offOtime:]))
	d.Ctime = int64(le.Uint64(b[offCtime:]))
	d.Nsems = le.Uint64(b[offNsems:])
}

// Seminfo is struct seminfo, filled by IPC_INFO and SEM_INFO.
type Seminfo struct {
	Semmap, Semmni, Semmns, Semmnu, Semmsl, Semopm, Semume, Semusz, Semvmx, Semaem int32
}

// SeminfoSize is sizeof(struct seminfo).
const SeminfoSize = 40

// Marshal encodes s into b[:SeminfoSize] in declaration order.
func (s *Seminfo) Marshal(b []byte) {
	_ = b[SeminfoSize-1]
	for i, v := range [...]int32{s.Semmap, s.Semmni, s.Semmns, s.Semmnu, s.Semmsl,
		s.Semopm, s.Semume, s.Semusz, s.Semvmx, s.Semaem} {
		le.PutUint32(b[4*i:], uint32(v))
	}
}

// Unmarshal decodes b[:SeminfoSize].
func (s *Seminfo) Unmarshal(b []byte) {
	_ = b[SeminfoSize-1]
	f := [...]*int32{&s.Semmap, &s.Semmni, &s.Semmns, &s.Semmnu, &s.Semmsl,
		&s.Semopm, &s.Semume, &s.Semusz, &s.Semvmx, &s.Semaem}
	for i, p := range f {
		*p = int32(le.Uint32(b[4*i:]))
	}
}
