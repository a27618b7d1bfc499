// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"errors"
	"io"
	"sync"
)

// buffer provides a linked list buffer for data exchange
// between producer and consumer. Theoretically the buffer is
// of unlimited capacity as it does no allocation of its own.
type buffer struct {
	// protects concurrent access to head, tail and closed
	*sync.Cond

	head *element // the buffer that will be read first
	tail *element // the buffer that will be read last

	closed bool
}

// An element represents a single link in a linked list.
type element struct {
	buf  []byte
	next *element
	pkt  []byte // the pooled packet buf points into, released once read
}

// pktPoolSize is the size of a new pooled packet buffer: room for a full
// data packet (channelMaxPacket bytes of data, its header, padding and a
// MAC or tag). pktPoolNeed is the least a buffer must hold to go back into
// the pool: a reader that strips a leading byte returns a buffer one byte
// shorter each time round.
const (
	pktPoolSize = 34 << 10
	pktPoolNeed = channelMaxPacket + 512
)

// pktPoolMin is the smallest packet that takes a pooled buffer.
const pktPoolMin = 4096

var pktPool = sync.Pool{New: func() any { return make([]byte, pktPoolSize) }}

// newPacketBuf returns a buffer of n bytes for a received packet, pooled
// when n is large enough to be worth it.
func newPacketBuf(n int) []byte {
	if n >= pktPoolMin && n <= pktPoolNeed {
		b := pktPool.Get().([]byte)
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]byte, n)
}

// releasePacketBuf gives p back to the pool if it is large enough to be
// worth it. The caller must hold the only reference.
func releasePacketBuf(p []byte) {
	if poolable(p) {
		pktPool.Put(p[:cap(p)])
	}
}

// poolable reports whether p may go back to the pool.
func poolable(p []byte) bool {
	c := cap(p)
	return c >= pktPoolNeed && c <= pktPoolSize
}

// newBuffer returns an empty buffer that is not closed.
func newBuffer() *buffer {
	e := new(element)
	b := &buffer{
		Cond: newCond(),
		head: e,
		tail: e,
	}
	return b
}

// write makes buf available for Read to receive.
// buf must not be modified after the call to write.
func (b *buffer) write(buf []byte) { b.writePacket(buf, nil) }

// writePacket is write for buf pointing into pkt, a packet buffer handed
// over with it: it is released when buf has been read.
func (b *buffer) writePacket(buf, pkt []byte) {
	b.Cond.L.Lock()
	e := &element{buf: buf, pkt: pkt}
	b.tail.next = e
	b.tail = e
	b.Cond.Signal()
	b.Cond.L.Unlock()
}

// eof closes the buffer. Reads from the buffer once all
// the data has been consumed will receive io.EOF.
func (b *buffer) eof() {
	b.Cond.L.Lock()
	b.closed = true
	b.Cond.Signal()
	b.Cond.L.Unlock()
}

// Read reads data from the internal buffer in buf.  Reads will block
// if no data is available, or until the buffer is closed.
func (b *buffer) Read(buf []byte) (n int, err error) {
	b.Cond.L.Lock()
	defer b.Cond.L.Unlock()

	for len(buf) > 0 {
		// if there is data in b.head, copy it
		if len(b.head.buf) > 0 {
			r := copy(buf, b.head.buf)
			buf, b.head.buf = buf[r:], b.head.buf[r:]
			n += r
			continue
		}
		if b.head.pkt != nil {
			releasePacketBuf(b.head.pkt)
			b.head.pkt, b.head.buf = nil, nil
		}
		// if there is a next buffer, make it the head
		if len(b.head.buf) == 0 && b.head != b.tail {
			b.head = b.head.next
			continue
		}

		// if at least one byte has been copied, return
		if n > 0 {
			break
		}

		// if nothing was read, and there is nothing outstanding
		// check to see if the buffer is closed.
		if b.closed {
			err = io.EOF
			break
		}
		// out of buffers, wait for producer
		b.Cond.Wait()
	}
	return
}

// writeTo writes the buffer's data to w until the buffer is closed and
// drained, or w fails. It hands w the queued packets themselves, one at a
// time, without copying them; a packet buffer is released once w has
// written all of it. After each write, consumed is told how many bytes w
// took; an error from it ends writeTo. writeTo must not run at the same
// time as Read.
//
// One packet per call measured better than handing w everything queued
// at once (as one writev): the reader on the other side of w starts on
// the data sooner, and the window is credited back in packet-sized steps.
func (b *buffer) writeTo(w io.Writer, consumed func(int) error) (n int64, err error) {
	for {
		b.Cond.L.Lock()
		for {
			b.skipDrained()
			if len(b.head.buf) > 0 || b.closed {
				break
			}
			b.Cond.Wait()
		}
		// Only the reader changes b.head.buf; the producer only appends
		// elements. So buf stays as it is until consume below.
		buf := b.head.buf
		b.Cond.L.Unlock()
		if len(buf) == 0 {
			return n, nil
		}

		nw, err := w.Write(buf)
		if nw < 0 || nw > len(buf) {
			return n, errors.New("ssh: invalid write result")
		}
		if nw > 0 {
			b.Cond.L.Lock()
			b.consume(nw)
			b.Cond.L.Unlock()
			n += int64(nw)
			if cerr := consumed(nw); cerr != nil && err == nil {
				err = cerr
			}
		}
		if err == nil && nw < len(buf) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return n, err
		}
	}
}

// skipDrained moves the head past elements whose data has all been read,
// releasing their packets. The last element stays as the list's anchor.
// The caller holds b.Cond.L.
func (b *buffer) skipDrained() {
	for len(b.head.buf) == 0 {
		if b.head.pkt != nil {
			releasePacketBuf(b.head.pkt)
			b.head.pkt, b.head.buf = nil, nil
		}
		if b.head == b.tail {
			return
		}
		b.head = b.head.next
	}
}

// consume drops the first n bytes of the buffer's data. The caller holds
// b.Cond.L.
func (b *buffer) consume(n int) {
	for n > 0 {
		b.skipDrained()
		k := min(n, len(b.head.buf))
		b.head.buf = b.head.buf[k:]
		n -= k
	}
	b.skipDrained()
}
