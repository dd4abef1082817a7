package abi

import (
	"bytes"
	"testing"
)

// FuzzSembuf decodes arbitrary bytes as sembufs and encodes them again:
// every byte of a sembuf is meaningful, so the bytes must come back
// unchanged.
func FuzzSembuf(f *testing.F) {
	f.Add([]byte{0, 0, 0xff, 0xff, 0, 0x10})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := len(b) / SembufSize
		sops := make([]Sembuf, n)
		UnmarshalSembufs(sops, b[:n*SembufSize])
		out := make([]byte, n*SembufSize)
		for i := range sops {
			var one Sembuf
			one.Unmarshal(b[i*SembufSize:])
			if one != sops[i] {
				t.Fatalf("UnmarshalSembufs and Unmarshal disagree on sembuf %d: %+v vs %+v", i, sops[i], one)
			}
			sops[i].Marshal(out[i*SembufSize:])
		}
		if !bytes.Equal(out, b[:n*SembufSize]) {
			t.Fatalf("re-encoded %x, want %x", out, b[:n*SembufSize])
		}
	})
}

// FuzzSemidDS decodes arbitrary bytes as a semid64_ds and encodes it again:
// the fields must come back unchanged and the padding as zeros; decoding
// the result must give the same structure.
func FuzzSemidDS(f *testing.F) {
	f.Add(make([]byte, SemidDSSize))
	f.Add(bytes.Repeat([]byte{0xff}, SemidDSSize))
	seq := make([]byte, SemidDSSize+3)
	for i := range seq {
		seq[i] = byte(i)
	}
	f.Add(seq)
	pad := semidDSPadding()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < SemidDSSize {
			return
		}
		var ds SemidDS
		ds.Unmarshal(b)
		out := make([]byte, SemidDSSize)
		ds.Marshal(out)
		want := bytes.Clone(b[:SemidDSSize])
		for _, off := range pad {
			want[off] = 0
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encoded\n%x, want\n%x", out, want)
		}
		var again SemidDS
		again.Unmarshal(out)
		if again != ds {
			t.Fatalf("decode(encode(d)) = %+v, want %+v", again, ds)
		}
	})
}

// FuzzTimespecSeminfo does the same for the two remaining structures,
// which have no padding.
func FuzzTimespecSeminfo(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x80}, SeminfoSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= TimespecSize {
			var ts Timespec
			ts.Unmarshal(b)
			out := make([]byte, TimespecSize)
			ts.Marshal(out)
			if !bytes.Equal(out, b[:TimespecSize]) {
				t.Fatalf("timespec re-encoded %x, want %x", out, b[:TimespecSize])
			}
		}
		if len(b) >= SeminfoSize {
			var si Seminfo
			si.Unmarshal(b)
			out := make([]byte, SeminfoSize)
			si.Marshal(out)
			if !bytes.Equal(out, b[:SeminfoSize]) {
				t.Fatalf("seminfo re-encoded %x, want %x", out, b[:SeminfoSize])
			}
		}
	})
}
