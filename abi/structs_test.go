package abi

import (
	"bytes"
	"math"
	"testing"
)

func TestSembufRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		s     Sembuf
		bytes []byte
	}{
		{"zero", Sembuf{}, []byte{0, 0, 0, 0, 0, 0}},
		{"little-endian fields in declaration order", Sembuf{SemNum: 0x0102, SemOp: 0x0304, SemFlg: 0x0506}, []byte{2, 1, 4, 3, 6, 5}},
		{"negative sem_op is two's complement", Sembuf{SemNum: 1, SemOp: -1, SemFlg: IPC_NOWAIT}, []byte{1, 0, 0xff, 0xff, 0x00, 0x08}},
		{"extremes", Sembuf{SemNum: math.MaxUint16, SemOp: math.MinInt16, SemFlg: -1}, []byte{0xff, 0xff, 0x00, 0x80, 0xff, 0xff}},
		{"SEM_UNDO|IPC_NOWAIT", Sembuf{SemFlg: SEM_UNDO | IPC_NOWAIT}, []byte{0, 0, 0, 0, 0x00, 0x18}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, SembufSize+2)
			b[SembufSize], b[SembufSize+1] = 0xaa, 0xbb
			tc.s.Marshal(b)
			if !bytes.Equal(b[:SembufSize], tc.bytes) || b[SembufSize] != 0xaa || b[SembufSize+1] != 0xbb {
				t.Errorf("Marshal = %x, want %x followed by untouched aabb", b, tc.bytes)
			}
			var got Sembuf
			got.Unmarshal(tc.bytes)
			if got != tc.s {
				t.Errorf("Unmarshal = %+v, want %+v", got, tc.s)
			}
		})
	}
}

func TestUnmarshalSembufs(t *testing.T) {
	in := []Sembuf{{0, -1, SEM_UNDO}, {7, 3, 0}, {65535, 0, IPC_NOWAIT}}
	b := make([]byte, len(in)*SembufSize)
	for i := range in {
		in[i].Marshal(b[i*SembufSize:])
	}
	out := make([]Sembuf, len(in))
	UnmarshalSembufs(out, b)
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("sembuf %d = %+v, want %+v", i, out[i], in[i])
		}
	}
	UnmarshalSembufs(nil, nil) // zero operations need no bytes
}

func TestTimespecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ts   Timespec
	}{
		{"zero", Timespec{}},
		{"typical", Timespec{Sec: 1, Nsec: 500_000_000}},
		{"negative values survive for the EINVAL check", Timespec{Sec: -1, Nsec: -1}},
		{"extremes", Timespec{Sec: math.MaxInt64, Nsec: math.MinInt64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, TimespecSize)
			tc.ts.Marshal(b)
			var got Timespec
			got.Unmarshal(b)
			if got != tc.ts {
				t.Errorf("round trip = %+v, want %+v", got, tc.ts)
			}
		})
	}
	var ts Timespec
	ts.Unmarshal([]byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0})
	if ts != (Timespec{Sec: 1, Nsec: 2}) {
		t.Errorf("Unmarshal = %+v, want {1 2}", ts)
	}
}

func TestSemidDSRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ds   SemidDS
	}{
		{"zero", SemidDS{}},
		{"typical", SemidDS{Perm: IPCPerm{Key: 0x1234, UID: 1000, GID: 100, CUID: 1000, CGID: 100, Mode: 0o600, Seq: 3}, Otime: 1700000000, Ctime: 1700000001, Nsems: 5}},
		{"extremes", SemidDS{Perm: IPCPerm{Key: math.MinInt32, UID: math.MaxUint32, GID: math.MaxUint32, CUID: 1, CGID: 2, Mode: math.MaxUint32, Seq: math.MaxUint16}, Otime: math.MinInt64, Ctime: math.MaxInt64, Nsems: math.MaxUint64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Repeat([]byte{0xcc}, SemidDSSize+8)
			tc.ds.Marshal(b)
			var got SemidDS
			got.Unmarshal(b)
			if got != tc.ds {
				t.Errorf("round trip = %+v, want %+v", got, tc.ds)
			}
			if !bytes.Equal(b[SemidDSSize:], bytes.Repeat([]byte{0xcc}, 8)) {
				t.Errorf("Marshal wrote past %d bytes: %x", SemidDSSize, b[SemidDSSize:])
			}
			for _, off := range semidDSPadding() {
				if b[off] != 0 {
					t.Errorf("padding byte %d = %#x, want 0", off, b[off])
				}
			}
		})
	}
}

// semidDSPadding lists the bytes of struct semid64_ds that hold no field
// of SemidDS (padding and the kernel's unused words).
func semidDSPadding() []int {
	used := make([]bool, SemidDSSize)
	for _, f := range []struct{ off, size int }{
		{offPermKey, 4}, {offPermUID, 4}, {offPermGID, 4}, {offPermCUID, 4}, {offPermCGID, 4},
		{offPermMode, 4}, {offPermSeq, 2}, {offOtime, 8}, {offCtime, 8}, {offNsems, 8},
	} {
		for i := range f.size {
			used[f.off+i] = true
		}
	}
	var pad []int
	for i, u := range used {
		if !u {
			pad = append(pad, i)
		}
	}
	return pad
}

func TestSemidDSIgnoresPadding(t *testing.T) {
	b := make([]byte, SemidDSSize)
	for _, off := range semidDSPadding() {
		b[off] = 0xff
	}
	var ds SemidDS
	ds.Unmarshal(b)
	if ds != (SemidDS{}) {
		t.Errorf("Unmarshal of padding-only bytes = %+v, want zero", ds)
	}
	if n := len(semidDSPadding()); n != SemidDSSize-50 {
		t.Errorf("%d padding bytes, want %d (50 bytes of fields)", n, SemidDSSize-50)
	}
}

func TestSeminfoRoundTrip(t *testing.T) {
	in := Seminfo{Semmap: 1, Semmni: 2, Semmns: 3, Semmnu: 4, Semmsl: 5, Semopm: 6, Semume: 7, Semusz: 8, Semvmx: 9, Semaem: math.MinInt32}
	b := make([]byte, SeminfoSize)
	in.Marshal(b)
	for i := range 9 {
		if b[4*i] != byte(i+1) {
			t.Errorf("field %d encoded at byte %d as %d, want %d (declaration order)", i, 4*i, b[4*i], i+1)
		}
	}
	var out Seminfo
	out.Unmarshal(b)
	if out != in {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
}

// TestShortBuffersPanic: every method insists on a full-size buffer
// rather than reading or writing part of a structure.
func TestShortBuffersPanic(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"Sembuf.Unmarshal", func() { var s Sembuf; s.Unmarshal(make([]byte, SembufSize-1)) }},
		{"Sembuf.Marshal", func() { var s Sembuf; s.Marshal(make([]byte, SembufSize-1)) }},
		{"UnmarshalSembufs", func() { UnmarshalSembufs(make([]Sembuf, 2), make([]byte, 2*SembufSize-1)) }},
		{"Timespec.Unmarshal", func() { var s Timespec; s.Unmarshal(make([]byte, TimespecSize-1)) }},
		{"Timespec.Marshal", func() { var s Timespec; s.Marshal(make([]byte, TimespecSize-1)) }},
		{"SemidDS.Unmarshal", func() { var s SemidDS; s.Unmarshal(make([]byte, SemidDSSize-1)) }},
		{"SemidDS.Marshal", func() { var s SemidDS; s.Marshal(make([]byte, SemidDSSize-1)) }},
		{"Seminfo.Unmarshal", func() { var s Seminfo; s.Unmarshal(make([]byte, SeminfoSize-1)) }},
		{"Seminfo.Marshal", func() { var s Seminfo; s.Marshal(make([]byte, SeminfoSize-1)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s of a short buffer did not panic", tc.name)
				}
			}()
			tc.f()
		})
	}
}
