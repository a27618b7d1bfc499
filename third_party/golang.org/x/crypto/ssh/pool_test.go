// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"io"
	"testing"
)

// TestBufferReleasesPacketOnceRead checks that a packet handed to the
// buffer is let go only after all of its data has been read, and that the
// data read is the packet's, across partial reads.
func TestBufferReleasesPacketOnceRead(t *testing.T) {
	b := newBuffer()
	pkt := newPacketBuf(pktPoolMin + 100)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	want := append([]byte(nil), pkt[9:]...)
	b.writePacket(pkt[9:], pkt)
	e := b.tail

	got := make([]byte, len(want))
	n, err := b.Read(got[:100])
	if n != 100 || err != nil {
		t.Fatalf("first read: %d, %v", n, err)
	}
	if e.pkt == nil {
		t.Fatal("packet released after a partial read")
	}
	n, err = b.Read(got[100:])
	if n != len(want)-100 || err != nil {
		t.Fatalf("second read: %d, %v", n, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("data read differs from the data written")
	}
	b.write([]byte("x")) // the next Read moves past the drained element
	if n, err := b.Read(make([]byte, 10)); n != 1 || err != nil {
		t.Fatalf("third read: %d, %v", n, err)
	}
	if e.pkt != nil || e.buf != nil {
		t.Fatal("drained packet still referenced by the buffer")
	}
}

// TestReleasePacketBufBounds checks which buffers go back to the pool: only
// those large enough for a full data packet and no larger than the pool's.
func TestReleasePacketBufBounds(t *testing.T) {
	for _, tc := range []struct {
		cap  int
		pool bool
	}{
		{pktPoolMin, false},
		{pktPoolNeed - 1, false},
		{pktPoolNeed, true},
		{pktPoolSize, true},
		{pktPoolSize + 1, false},
	} {
		if got := poolable(make([]byte, 1, tc.cap)); got != tc.pool {
			t.Errorf("cap %d: poolable = %v, want %v", tc.cap, got, tc.pool)
		}
	}
	if got := newPacketBuf(pktPoolMin - 1); cap(got) != pktPoolMin-1 {
		t.Errorf("small packet: cap %d, want an exact allocation", cap(got))
	}
	if got := newPacketBuf(pktPoolMin); cap(got) < pktPoolNeed {
		t.Errorf("large packet: cap %d, want a pooled buffer", cap(got))
	}
}

// TestGCMReadsIntoFreshPacket checks that a GCM packet read is not
// overwritten by the next read (it no longer points into the cipher's
// buffer) and that connectionState does not copy it again.
func TestGCMReadsIntoFreshPacket(t *testing.T) {
	kr := &kexResult{Hash: crypto.SHA256}
	algs := DirectionAlgorithms{Cipher: CipherAES128GCM, compression: compressionNone}
	w, err := newPacketCipher(clientKeys, algs, kr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := newPacketCipher(clientKeys, algs, kr)
	if err != nil {
		t.Fatal(err)
	}
	var wire bytes.Buffer
	first := bytes.Repeat([]byte{1}, 20000)
	second := bytes.Repeat([]byte{2}, 20000)
	for i, p := range [][]byte{first, second} {
		if err := w.writeCipherPacket(uint32(i), &wire, rand.Reader, append([]byte(nil), p...)); err != nil {
			t.Fatal(err)
		}
	}
	got1, err := r.readCipherPacket(0, &wire)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := r.readCipherPacket(1, &wire)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got1, first) || !bytes.Equal(got2, second) {
		t.Fatal("packets differ from what was written, or the second overwrote the first")
	}
	if f, ok := r.(interface{ freshPackets() bool }); !ok || !f.freshPackets() {
		t.Error("gcmCipher does not report fresh packets")
	}
}

// TestWriteExtendedKeepsNoLargeBuffer checks that a channel that carried a
// large write does not keep a packet-sized buffer afterwards, and that the
// data arrives intact.
func TestWriteExtendedKeepsNoLargeBuffer(t *testing.T) {
	writer, reader, mux := channelPair(t)
	defer writer.Close()
	defer reader.Close()
	defer mux.Close()

	data := make([]byte, 100000)
	rand.Read(data)
	done := make(chan error, 1)
	go func() {
		_, err := writer.Write(data)
		done <- err
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(reader, got); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	writer.writeMu.Lock()
	kept := cap(writer.packetPool[0])
	writer.writeMu.Unlock()
	if kept >= pktPoolMin {
		t.Errorf("channel keeps a %d-byte write buffer after a large write", kept)
	}

	// Small writes still reuse the channel's own buffer.
	go func() {
		_, err := writer.Write([]byte("hello"))
		done <- err
	}()
	if _, err := io.ReadFull(reader, got[:5]); err != nil || <-done != nil {
		t.Fatal("small write failed")
	}
	writer.writeMu.Lock()
	kept = cap(writer.packetPool[0])
	writer.writeMu.Unlock()
	if kept == 0 || kept >= pktPoolMin {
		t.Errorf("after a small write the channel keeps %d bytes, want a small buffer", kept)
	}
}
