package main

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy forwards TCP connections from 127.0.0.1 to a server and,
// once armed, breaks some of them: it resets a connection (RST, both
// ways) after the client sent resetAfter bytes through it, or holds back
// the next answer of the server (not an HTTP "100 Continue") until the
// client gives up on it. A connection gets one fault at most.
type faultProxy struct {
	ln     net.Listener
	target string

	resetAfter int64        // bytes from the client before a reset
	resets     atomic.Int32 // resets still to do
	stalls     atomic.Int32 // answers still to hold back
	armed      atomic.Bool
	// what was done so far
	didResets, didStalls atomic.Int32

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// stallLimit bounds how long the proxy holds an answer back when the
// client never gives up.
const stallLimit = time.Minute

// startFaultProxy starts a proxy to target (host:port), closed when the
// test ends.
func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's host:port.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// close stops the proxy and ends all connections through it.
func (p *faultProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track registers c for close; false when the proxy is closed already.
func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// take uses up one of the faults counted by n, if any is left.
func take(n *atomic.Int32) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// abort ends c with a TCP reset.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// serve forwards one connection in both directions.
func (p *faultProxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)

	clientGone := make(chan struct{})
	var stalled atomic.Bool // this connection's answer is held back
	go func() {             // client -> server
		defer close(clientGone)
		var sent int64
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				sent += int64(n)
				if p.armed.Load() && sent >= p.resetAfter && !stalled.Load() && take(&p.resets) {
					p.didResets.Add(1)
					abort(client)
					abort(server)
					return
				}
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if tc, ok := server.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for { // server -> client
		n, err := server.Read(buf)
		if n > 0 {
			// an interim "100 Continue" is no answer worth holding back
			if p.armed.Load() && !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 100 ")) && take(&p.stalls) {
				stalled.Store(true)
				p.didStalls.Add(1)
				select {
				case <-clientGone:
				case <-time.After(stallLimit):
				}
				abort(client)
				abort(server)
				return
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
