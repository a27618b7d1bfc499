// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
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

// gcmPair returns a GCM writer and reader keyed alike.
func gcmPair(t *testing.T) (w, r packetCipher) {
	t.Helper()
	kr := &kexResult{Hash: crypto.SHA256}
	algs := DirectionAlgorithms{Cipher: CipherAES128GCM, compression: compressionNone}
	w, err := newPacketCipher(clientKeys, algs, kr)
	if err != nil {
		t.Fatal(err)
	}
	r, err = newPacketCipher(clientKeys, algs, kr)
	if err != nil {
		t.Fatal(err)
	}
	return w, r
}

// countingWriter counts Write calls.
type countingWriter struct {
	bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

// TestGCMWritesPacketOnce checks that a GCM packet goes to the writer in one
// Write, length and tag included, and still reads back.
func TestGCMWritesPacketOnce(t *testing.T) {
	w, r := gcmPair(t)
	var wire countingWriter
	for i, n := range []int{1, 100, 20000, channelMaxPacket + 9} {
		p := bytes.Repeat([]byte{byte(i + 1)}, n)
		wire.calls = 0
		if err := w.writeCipherPacket(uint32(i), &wire, rand.Reader, p); err != nil {
			t.Fatal(err)
		}
		if wire.calls != 1 {
			t.Errorf("%d-byte packet: %d writes, want 1", n, wire.calls)
		}
		got, err := r.readCipherPacket(uint32(i), bufio.NewReader(&wire.Buffer))
		if err != nil {
			t.Fatalf("%d-byte packet: %v", n, err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("%d-byte packet read back differs", n)
		}
	}
}

// TestGCMBufferedRead reads packets through bufio.Readers of several sizes:
// those that hold a whole packet are decrypted straight out of the reader's
// buffer, the others take the copying path. Either way every packet is
// intact and survives the reads that follow it (it does not point into
// the reader's buffer).
func TestGCMBufferedRead(t *testing.T) {
	sizes := []int{1, 5000, 20000, channelMaxPacket + 9, 3, 40000}
	for _, bufSize := range []int{16, 4096, 64 << 10, transportReadBufferSize} {
		w, r := gcmPair(t)
		var wire bytes.Buffer
		var want [][]byte
		for i, n := range sizes {
			p := make([]byte, n)
			rand.Read(p)
			want = append(want, p)
			if err := w.writeCipherPacket(uint32(i), &wire, rand.Reader, append([]byte(nil), p...)); err != nil {
				t.Fatal(err)
			}
		}
		br := bufio.NewReaderSize(&wire, bufSize)
		var got [][]byte
		for i := range sizes {
			p, err := r.readCipherPacket(uint32(i), br)
			if err != nil {
				t.Fatalf("buffer %d, packet %d: %v", bufSize, i, err)
			}
			got = append(got, p)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("buffer %d: packet %d differs (overwritten by a later read?)", bufSize, i)
			}
		}
		if _, err := r.readCipherPacket(uint32(len(sizes)), br); err != io.EOF {
			t.Errorf("buffer %d: read at the end: %v, want io.EOF", bufSize, err)
		}
	}
}

// TestGCMBufferedReadTruncated: a packet cut short is io.ErrUnexpectedEOF,
// as io.ReadFull reports it, whether it ends in the length or in the body;
// a tampered packet fails to open.
func TestGCMBufferedReadTruncated(t *testing.T) {
	w, r := gcmPair(t)
	var wire bytes.Buffer
	if err := w.writeCipherPacket(0, &wire, rand.Reader, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	whole := wire.Bytes()
	for _, cut := range []int{2, 4, 100, len(whole) - 1} {
		br := bufio.NewReaderSize(bytes.NewReader(whole[:cut]), transportReadBufferSize)
		if _, err := r.readCipherPacket(0, br); err != io.ErrUnexpectedEOF {
			t.Errorf("cut at %d of %d: %v, want io.ErrUnexpectedEOF", cut, len(whole), err)
		}
	}
	bad := append([]byte(nil), whole...)
	bad[len(bad)-1] ^= 1
	if _, err := r.readCipherPacket(0, bufio.NewReader(bytes.NewReader(bad))); err == nil {
		t.Error("a packet with a bad tag was accepted")
	}
}

// TestWriteToCopiesAll sends more than a window's worth through a channel
// and reads it with WriteTo: every byte arrives in order (so the window is
// credited as WriteTo writes), each Write is at most one packet, and
// WriteTo returns nil once the sender closes its side.
func TestWriteToCopiesAll(t *testing.T) {
	writer, reader, mux := channelPair(t)
	defer writer.Close()
	defer reader.Close()
	defer mux.Close()

	data := make([]byte, 3*channelWindowSize+12345)
	rand.Read(data)
	go func() {
		writer.Write(data)
		writer.CloseWrite()
	}()
	var got sizeRecorder
	n, err := reader.WriteTo(&got)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("WriteTo wrote %d bytes, want the %d sent", n, len(data))
	}
	if got.max > channelMaxPacket {
		t.Errorf("largest Write %d bytes, want at most one packet (%d)", got.max, channelMaxPacket)
	}
}

type sizeRecorder struct {
	bytes.Buffer
	max int
}

func (w *sizeRecorder) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return w.Buffer.Write(p)
}

// TestWriteToShortAndFailedWrites: a writer that takes part of a packet
// and no error is io.ErrShortWrite, with the bytes it took counted and
// gone from the channel (a Read then gets the rest); a writer's error ends
// WriteTo with that error.
func TestWriteToShortAndFailedWrites(t *testing.T) {
	writer, reader, mux := channelPair(t)
	defer writer.Close()
	defer reader.Close()
	defer mux.Close()

	if _, err := writer.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	n, err := reader.WriteTo(shortWriter{3})
	if n != 3 || err != io.ErrShortWrite {
		t.Fatalf("short writer: %d, %v; want 3, io.ErrShortWrite", n, err)
	}
	rest := make([]byte, 7)
	if _, err := io.ReadFull(reader, rest); err != nil || string(rest) != "3456789" {
		t.Fatalf("after the short write Read got %q, %v", rest, err)
	}

	if _, err := writer.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if n, err := reader.WriteTo(failWriter{boom}); n != 0 || err != boom {
		t.Fatalf("failing writer: %d, %v; want 0, boom", n, err)
	}
}

type shortWriter struct{ n int }

func (w shortWriter) Write(p []byte) (int, error) { return min(w.n, len(p)), nil }

type failWriter struct{ err error }

func (w failWriter) Write(p []byte) (int, error) { return 0, w.err }

// TestWriteToReleasesPackets checks that WriteTo lets go of each packet it
// has written: the buffer keeps no reference to a drained one.
func TestWriteToReleasesPackets(t *testing.T) {
	b := newBuffer()
	var elems []*element
	for i := 0; i < 3; i++ {
		pkt := newPacketBuf(pktPoolMin + i)
		b.writePacket(pkt[9:], pkt)
		elems = append(elems, b.tail)
	}
	b.eof()
	var got bytes.Buffer
	var credited int
	n, err := b.writeTo(&got, func(n int) error { credited += n; return nil })
	if err != nil || n != int64(got.Len()) || credited != got.Len() {
		t.Fatalf("writeTo: %d, %v; wrote %d, credited %d", n, err, got.Len(), credited)
	}
	for i, e := range elems {
		if e.pkt != nil || e.buf != nil {
			t.Errorf("element %d still holds its packet after writeTo", i)
		}
	}
}

// TestChanConnWriteTo: a forwarded connection (chanConn) passes WriteTo on
// to its channel.
func TestChanConnWriteTo(t *testing.T) {
	writer, reader, mux := channelPair(t)
	defer writer.Close()
	defer reader.Close()
	defer mux.Close()

	data := make([]byte, 100000)
	rand.Read(data)
	go func() {
		writer.Write(data)
		writer.CloseWrite()
	}()
	ch := &writeToRecorder{channel: reader}
	conn := &chanConn{Channel: ch}
	var got bytes.Buffer
	n, err := conn.WriteTo(&got)
	if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("WriteTo: %d, %v; want the %d bytes sent", n, err, len(data))
	}
	if !ch.used {
		t.Error("chanConn.WriteTo did not use the channel's WriteTo")
	}
}

type writeToRecorder struct {
	*channel
	used bool
}

func (c *writeToRecorder) WriteTo(w io.Writer) (int64, error) {
	c.used = true
	return c.channel.WriteTo(w)
}

// TestGCMWritesInPlace checks that a packet with room around it is sealed
// where it lies and written from there in one Write, and that it reads
// back intact; without enough room it still goes out whole, through the
// copying path.
func TestGCMWritesInPlace(t *testing.T) {
	w, r := gcmPair(t)
	rc, ok := w.(roomCipher)
	if !ok {
		t.Fatal("gcmCipher cannot seal in place")
	}
	for i, tc := range []struct {
		off, n, tail int
		inPlace      bool
	}{
		{packetRoom, 20000, packetTailRoom, true},
		{packetRoom + 7, 1, packetTailRoom, true},
		{packetRoom - 1, 5000, packetTailRoom, false},
		{packetRoom, 5000, 2, false},
	} {
		buf := make([]byte, tc.off+tc.n, tc.off+tc.n+tc.tail)
		rand.Read(buf[tc.off:])
		want := append([]byte(nil), buf[tc.off:]...)
		var wire countingWriter
		if err := rc.writeCipherPacketRoom(uint32(i), &wire, rand.Reader, buf, tc.off); err != nil {
			t.Fatal(err)
		}
		if wire.calls != 1 {
			t.Errorf("case %d: %d writes, want 1", i, wire.calls)
		}
		start := tc.off - packetRoom
		inPlace := start >= 0 && start+wire.Len() <= cap(buf) && bytes.Equal(wire.Bytes(), buf[start:start+wire.Len()])
		if inPlace != tc.inPlace {
			t.Errorf("case %d: sealed in place = %v, want %v", i, inPlace, tc.inPlace)
		}
		got, err := r.readCipherPacket(uint32(i), bufio.NewReader(&wire.Buffer))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: packet read back differs", i)
		}
	}
}

// roomRecorder is a packetConn that takes packets with room around them,
// recording each offset and checking the room promised.
type roomRecorder struct {
	packetConn
	t    *testing.T
	mu   sync.Mutex
	offs []int
}

func (c *roomRecorder) writePacketRoom(buf []byte, off int) error {
	if off < packetRoom || cap(buf)-len(buf) < packetTailRoom {
		c.t.Errorf("packet at %d with %d bytes after it: not the room promised", off, cap(buf)-len(buf))
	}
	c.mu.Lock()
	c.offs = append(c.offs, off)
	c.mu.Unlock()
	return c.packetConn.writePacket(append([]byte(nil), buf[off:]...))
}

// roomPair opens a channel whose writing side's transport records the
// room it is given around each packet.
func roomPair(t *testing.T) (writer, reader Channel, rec *roomRecorder) {
	a, b := memPipe()
	rec = &roomRecorder{packetConn: b, t: t}
	sm, cm := newMux(a), newMux(rec)
	t.Cleanup(func() {
		sm.Close()
		cm.Close()
	})
	res := make(chan Channel, 1)
	go func() {
		nc := <-sm.incomingChannels
		ch, _, err := nc.Accept()
		if err != nil {
			t.Error(err)
		}
		res <- ch
	}()
	w, err := cm.openChannel("chan", nil)
	if err != nil {
		t.Fatal(err)
	}
	return w, <-res, rec
}

// TestWriteExtendedLeavesRoom checks that a large channel write hands the
// transport its packets with room to seal them in place, and the data
// arrives intact.
func TestWriteExtendedLeavesRoom(t *testing.T) {
	writer, reader, rec := roomPair(t)
	data := make([]byte, 200000)
	rand.Read(data)
	go writer.Write(data)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(reader, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.offs) == 0 {
		t.Fatal("no packet was written with room around it")
	}
}

// chunkReader hands out its data in reads of at most the sizes in chunks,
// round and round, then io.EOF (or err). Before each read it checks that
// ReadFrom called WaitRead exactly when it should: after a read shorter
// than the buffer it was given, and never after one that filled it.
type chunkReader struct {
	t       *testing.T
	data    []byte
	chunks  []int
	err     error
	reads   int
	waits   int
	waited  bool // WaitRead was called since the last read
	mustNot bool // the last read filled its buffer
	bufs    []int
}

func (r *chunkReader) WaitRead() error {
	if r.mustNot {
		r.t.Errorf("WaitRead after read %d, which filled its buffer", r.reads)
	}
	r.waits++
	r.waited = true
	return nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if !r.waited && !r.mustNot {
		r.t.Errorf("read %d without WaitRead after a short read", r.reads+1)
	}
	r.bufs = append(r.bufs, len(p))
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	k := min(len(p), len(r.data), r.chunks[r.reads%len(r.chunks)])
	copy(p, r.data[:k])
	r.data = r.data[k:]
	r.reads++
	r.waited, r.mustNot = false, k == len(p)
	return k, nil
}

// TestReadFromSendsAll sends three windows' worth through ReadFrom, in
// reads of awkward sizes: every byte arrives in order, each read is into
// at most one packet's worth, and the packets leave the transport room to
// seal them in place. ReadFrom waits (WaitRead) only after short reads,
// and returns the count and nil at EOF, leaving the channel open.
func TestReadFromSendsAll(t *testing.T) {
	writer, reader, rec := roomPair(t)
	data := make([]byte, 3*channelWindowSize+12345)
	rand.Read(data)
	src := &chunkReader{t: t, data: data, chunks: []int{1, channelMaxPacket, 5000, channelMaxPacket, channelMaxPacket, 70000}}
	done := make(chan error, 1)
	go func() {
		n, err := writer.(io.ReaderFrom).ReadFrom(src)
		if err == nil && n != int64(len(data)) {
			err = fmt.Errorf("ReadFrom returned %d, want %d", n, len(data))
		}
		if err == nil {
			err = writer.CloseWrite()
		}
		done <- err
	}()
	got, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the %d sent (or not in order)", len(got), len(data))
	}
	for i, n := range src.bufs {
		if n > channelMaxPacket {
			t.Fatalf("read %d into %d bytes, more than a packet's data (%d)", i, n, channelMaxPacket)
		}
	}
	if src.waits == 0 || src.waits >= len(src.bufs) {
		t.Errorf("%d WaitReads for %d reads: want some, and not one per read", src.waits, len(src.bufs))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.offs) < len(data)/channelMaxPacket {
		t.Errorf("%d packets written with room, want one per packet (at least %d)", len(rec.offs), len(data)/channelMaxPacket)
	}
}

// TestReadFromErrors: data that comes with a read error is still sent, and
// the error is ReadFrom's; a read that claims more than its buffer is an
// error, and the window it reserved is given back; after CloseWrite,
// ReadFrom sends nothing and says io.EOF.
func TestReadFromErrors(t *testing.T) {
	writer, reader, mux := channelPair(t)
	defer writer.Close()
	defer reader.Close()
	defer mux.Close()

	boom := errors.New("boom")
	n, err := writer.ReadFrom(&chunkReader{t: t, data: []byte("hello"), chunks: []int{5}, err: boom})
	if n != 5 || err != boom {
		t.Fatalf("ReadFrom = %d, %v; want 5, boom", n, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(reader, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello", got, err)
	}

	before := writer.remoteWin.win
	if _, err := writer.ReadFrom(badReader{}); err == nil {
		t.Fatal("a read claiming more than its buffer was not an error")
	}
	if after := writer.remoteWin.win; after != before {
		t.Errorf("window %d after a failed read, want %d back", after, before)
	}

	if err := writer.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := writer.ReadFrom(&chunkReader{t: t, data: []byte("late"), chunks: []int{4}}); n != 0 || err != io.EOF {
		t.Fatalf("ReadFrom after CloseWrite = %d, %v; want 0, io.EOF", n, err)
	}
}

type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }
