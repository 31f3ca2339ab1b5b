// meet-pion-gen: the media plane of the capacity benchmark (bench/capacity.ts), in Go with
// pion (ORTC API: ICEGatherer, ICETransport, DTLSTransport, RTPSender, RTPReceiver).
//
// The signaling stays in TypeScript: bench/capacity.ts speaks the platform's protoo
// protocol and drives this process over stdin/stdout, one JSON object per line:
//
//	{"id":1,"op":"transport","direction":"send"|"recv","ice":{...},"candidates":[...],"dtls":{...}}
//	    → {"id":1,"ok":true,"result":{"tid":1,"dtls":{"role":"client","fingerprints":[...]}}}
//	{"id":2,"op":"connect","tid":1}               ICE (controlling) + DTLS (client); answers once connected
//	{"id":3,"op":"sender","tid":1}                → {"ssrc":…}: a VP8 sender on that transport
//	{"id":4,"op":"send","key":"p1","ssrc":…,"kbps":600,"fps":30}   starts the synthetic camera
//	{"id":5,"op":"consume","tid":2,"key":"c1","ssrc":…}   receives and counts one consumer
//	{"id":6,"op":"stats"}                          → counters of every sender and consumer
//	{"id":7,"op":"close"}                          (or end of stdin) exits
//
// Video: synthetic VP8 at a target payload bitrate, packetized as RFC 7741 (payload
// descriptor with a 15-bit picture id, ≤ 1100-byte payloads), a keyframe (P bit clear, start
// code 9d 01 2a, 640x360) every 2 s and on PLI/FIR (at most one forced per 300 ms): the same
// shape as the TypeScript load tool's (bench/load/media.ts). Receivers count packets, bytes
// and RTP sequence-number gaps per consumer; they send no NACK (losses are not repaired). By
// default they count the SRTP headers at the socket without decrypting (see countingNet);
// -decrypt receives through pion's whole SRTP stack instead.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/pion/dtls/v2"
	"github.com/pion/ice/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	piontransport "github.com/pion/transport/v2"
	"github.com/pion/transport/v2/stdnet"
	"github.com/pion/webrtc/v3"
)

var (
	vp8PT      = flag.Int("vp8-pt", 96, "VP8 payload type (the router's, for sending and receiving)")
	ifaceName  = flag.String("iface", "", "gather ICE candidates on this interface only (default: all but loopback)")
	srtpGCM    = flag.Bool("srtp-gcm", true, "offer AEAD_AES_128_GCM before AES128_CM_HMAC_SHA1_80")
	decrypt    = flag.Bool("decrypt", false, "receive through pion's whole SRTP stack (decrypt, per-stream buffers) instead of counting SRTP headers at the socket")
	cpuProfile = flag.String("cpuprofile", "", "write a Go CPU profile to this file (until close)")
	keepalive  = flag.Duration("ice-keepalive", 2*time.Second, "ICE keepalive (consent) interval of receive transports")
	maxPayload = 1100
)

// Two APIs that differ in their ICE keepalive. mediasoup drops a transport that sent it no
// STUN binding request (ICE consent) for 30 s. pion's agent wakes every keepalive interval
// and pings the selected pair when it has sent or received nothing on it for that long. A
// receive transport sends nothing but pings: one ping per interval (2 s). A camera's
// transport sends a frame every 33 ms and receives the SFU's RTCP every 0.5–1.5 s: with a
// 400 ms interval it pings about once a second. (A very short interval would ping at every
// wake-up: 1 ms meant a thousand binding requests a second per camera.)
var api, sendAPI *webrtc.API

// ---- output --------------------------------------------------------------------------

var outMu sync.Mutex
var out = bufio.NewWriterSize(os.Stdout, 1<<16)

func reply(id int, result interface{}, err error) {
	msg := map[string]interface{}{"id": id, "ok": err == nil}
	if err != nil {
		msg["error"] = err.Error()
	} else if result != nil {
		msg["result"] = result
	}
	b, _ := json.Marshal(msg)
	outMu.Lock()
	out.Write(b)
	out.WriteByte('\n')
	out.Flush()
	outMu.Unlock()
}

var debug = os.Getenv("MEET_PION_DEBUG") != ""

func debugf(format string, args ...interface{}) {
	if debug {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// ---- transports ------------------------------------------------------------------------

type transport struct {
	gatherer *webrtc.ICEGatherer
	ice      *webrtc.ICETransport
	dtls     *webrtc.DTLSTransport
	remote   struct {
		ice        webrtc.ICEParameters
		candidates []webrtc.ICECandidate
		dtls       webrtc.DTLSParameters
	}
}

var (
	stateMu    sync.Mutex
	transports = map[int]*transport{}
	nextTid    = 0
	senders    = map[uint32]*webrtc.RTPSender{}
	cameras    []*camera
	consumers  []*consumerStats
)

type jsonIce struct {
	UsernameFragment string `json:"usernameFragment"`
	Password         string `json:"password"`
}

type jsonCandidate struct {
	Foundation string `json:"foundation"`
	Priority   uint32 `json:"priority"`
	Address    string `json:"address"`
	IP         string `json:"ip"`
	Protocol   string `json:"protocol"`
	Port       uint16 `json:"port"`
	Type       string `json:"type"`
}

type jsonFingerprint struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

type jsonDtls struct {
	Role         string            `json:"role,omitempty"`
	Fingerprints []jsonFingerprint `json:"fingerprints"`
}

type command struct {
	ID         int             `json:"id"`
	Op         string          `json:"op"`
	Direction  string          `json:"direction"`
	Tid        int             `json:"tid"`
	Ice        jsonIce         `json:"ice"`
	Candidates []jsonCandidate `json:"candidates"`
	Dtls       jsonDtls        `json:"dtls"`
	Key        string          `json:"key"`
	Ssrc       uint32          `json:"ssrc"`
	Kbps       int             `json:"kbps"`
	Fps        int             `json:"fps"`
}

func newTransport(c command) (interface{}, error) {
	a := api
	if c.Direction == "send" {
		a = sendAPI
	}
	gatherer, err := a.NewICEGatherer(webrtc.ICEGatherOptions{})
	if err != nil {
		return nil, err
	}
	iceT := a.NewICETransport(gatherer)
	dtlsT, err := a.NewDTLSTransport(iceT, nil)
	if err != nil {
		return nil, err
	}
	if err = gatherer.Gather(); err != nil {
		return nil, err
	}
	t := &transport{gatherer: gatherer, ice: iceT, dtls: dtlsT}
	iceT.OnConnectionStateChange(func(state webrtc.ICETransportState) { debugf("transport %s: ICE %s", c.Direction, state) })
	dtlsT.OnStateChange(func(state webrtc.DTLSTransportState) { debugf("transport %s: DTLS %s", c.Direction, state) })
	t.remote.ice = webrtc.ICEParameters{UsernameFragment: c.Ice.UsernameFragment, Password: c.Ice.Password, ICELite: true}
	for _, cand := range c.Candidates {
		if cand.Protocol != "udp" {
			continue
		}
		addr := cand.Address
		if addr == "" {
			addr = cand.IP
		}
		if ip := net.ParseIP(addr); ip == nil || ip.To4() == nil {
			continue
		}
		t.remote.candidates = append(t.remote.candidates, webrtc.ICECandidate{
			Foundation: cand.Foundation,
			Priority:   cand.Priority,
			Address:    addr,
			Protocol:   webrtc.ICEProtocolUDP,
			Port:       cand.Port,
			Typ:        webrtc.ICECandidateTypeHost,
			Component:  1,
		})
	}
	if len(t.remote.candidates) == 0 {
		return nil, fmt.Errorf("no UDP IPv4 candidate from the server")
	}
	// mediasoup's role is "auto": it becomes the DTLS server when we say we are the client.
	t.remote.dtls = webrtc.DTLSParameters{Role: webrtc.DTLSRoleServer}
	for _, f := range c.Dtls.Fingerprints {
		t.remote.dtls.Fingerprints = append(t.remote.dtls.Fingerprints, webrtc.DTLSFingerprint{Algorithm: f.Algorithm, Value: f.Value})
	}
	local, err := dtlsT.GetLocalParameters()
	if err != nil {
		return nil, err
	}
	d := jsonDtls{Role: "client"}
	for _, f := range local.Fingerprints {
		// mediasoup compares fingerprints case-sensitively, in upper case; pion's are lower case.
		d.Fingerprints = append(d.Fingerprints, jsonFingerprint{Algorithm: f.Algorithm, Value: strings.ToUpper(f.Value)})
	}
	stateMu.Lock()
	nextTid++
	tid := nextTid
	transports[tid] = t
	stateMu.Unlock()
	return map[string]interface{}{"tid": tid, "dtls": d}, nil
}

func getTransport(tid int) (*transport, error) {
	stateMu.Lock()
	defer stateMu.Unlock()
	t, ok := transports[tid]
	if !ok {
		return nil, fmt.Errorf("no transport %d", tid)
	}
	return t, nil
}

func connect(c command) (interface{}, error) {
	t, err := getTransport(c.Tid)
	if err != nil {
		return nil, err
	}
	if err = t.ice.SetRemoteCandidates(t.remote.candidates); err != nil {
		return nil, err
	}
	role := webrtc.ICERoleControlling
	if err = t.ice.Start(t.gatherer, t.remote.ice, &role); err != nil {
		return nil, fmt.Errorf("ICE: %w", err)
	}
	if err = t.dtls.Start(t.remote.dtls); err != nil {
		return nil, fmt.Errorf("DTLS: %w", err)
	}
	return nil, nil
}

// ---- sending: a synthetic VP8 camera ------------------------------------------------------

type camera struct {
	key       string
	track     *webrtc.TrackLocalStaticRTP
	sender    *webrtc.RTPSender
	kbps, fps int
	forceKey  int32
	packets   uint64
	bytes     uint64
	frames    uint64
	keyframes uint64
	plis      uint64
}

var noise = func() []byte {
	b := make([]byte, 256*1024)
	rand.Read(b)
	return b
}()

func newSender(c command) (interface{}, error) {
	t, err := getTransport(c.Tid)
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "meet-pion-gen")
	if err != nil {
		return nil, err
	}
	sender, err := sendAPI.NewRTPSender(track, t.dtls)
	if err != nil {
		return nil, err
	}
	params := sender.GetParameters()
	if err = sender.Send(params); err != nil {
		return nil, err
	}
	ssrc := uint32(params.Encodings[0].SSRC)
	cam := &camera{track: track, sender: sender}
	stateMu.Lock()
	senders[ssrc] = sender
	pending[ssrc] = cam
	stateMu.Unlock()
	// RTCP from the SFU: PLI / FIR ask for a keyframe.
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					atomic.StoreInt32(&cam.forceKey, 1)
					atomic.AddUint64(&cam.plis, 1)
				}
			}
		}
	}()
	return map[string]interface{}{"ssrc": ssrc}, nil
}

var pending = map[uint32]*camera{}

func startSending(c command) (interface{}, error) {
	stateMu.Lock()
	cam, ok := pending[c.Ssrc]
	delete(pending, c.Ssrc)
	if ok {
		cam.key = c.Key
		cam.kbps = c.Kbps
		cam.fps = c.Fps
		if cam.fps <= 0 {
			cam.fps = 30
		}
		cameras = append(cameras, cam)
	}
	stateMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no sender with ssrc %d", c.Ssrc)
	}
	go cam.run()
	return nil, nil
}

func (cam *camera) run() {
	fps := cam.fps
	framesPerKey := 2 * fps
	average := float64(cam.kbps) * 1000 / 8 / float64(fps)
	keySize := average * 5
	deltaSize := (average*float64(framesPerKey) - keySize) / float64(framesPerKey-1)
	if deltaSize < 200 {
		deltaSize = 200
	}
	seq := uint16(rand.Intn(0x10000))
	pictureID := rand.Intn(0x8000)
	timestamp := rand.Uint32()
	sinceKey := framesPerKey
	var lastForced time.Time
	period := time.Second / time.Duration(fps)
	start := time.Now()
	done := 0
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2}}
	buf := make([]byte, 0, 64*1024)
	for range ticker.C {
		due := int(time.Since(start)/period) + 1
		if due-done > 5 {
			done = due - 5 // after a stall, skip frames rather than burst
		}
		for ; done < due; done++ {
			now := time.Now()
			forced := atomic.LoadInt32(&cam.forceKey) == 1 && now.Sub(lastForced) >= 300*time.Millisecond
			key := forced || sinceKey >= framesPerKey-1
			if key {
				atomic.StoreInt32(&cam.forceKey, 0)
				lastForced = now
				sinceKey = 0
			} else {
				sinceKey++
			}
			base := deltaSize
			if key {
				base = keySize
			}
			size := int(base * (0.8 + rand.Float64()*0.4))
			if size < 16 {
				size = 16
			}
			off := rand.Intn(len(noise) - size)
			vp8 := append(buf[:0], noise[off:off+size]...)
			firstPartition := size - 10
			if firstPartition > 0x7ffff {
				firstPartition = 0x7ffff
			}
			tag := firstPartition<<5 | 1<<4
			if !key {
				tag |= 1
			}
			vp8[0], vp8[1], vp8[2] = byte(tag), byte(tag>>8), byte(tag>>16)
			if key {
				vp8[3], vp8[4], vp8[5] = 0x9d, 0x01, 0x2a
				vp8[6], vp8[7] = byte(640&0xff), byte(640>>8)
				vp8[8], vp8[9] = byte(360&0xff), byte(360>>8)
			}
			chunk := maxPayload - 4
			for o := 0; o < len(vp8); o += chunk {
				end := o + chunk
				last := end >= len(vp8)
				if last {
					end = len(vp8)
				}
				s := byte(0)
				if o == 0 {
					s = 0x10
				}
				payload := make([]byte, 4+end-o)
				payload[0] = 0x80 | s
				payload[1] = 0x80
				payload[2] = 0x80 | byte(pictureID>>8)
				payload[3] = byte(pictureID)
				copy(payload[4:], vp8[o:end])
				pkt.Header.SequenceNumber = seq
				pkt.Header.Timestamp = timestamp
				pkt.Header.Marker = last
				pkt.Payload = payload
				seq++
				if err := cam.track.WriteRTP(pkt); err == nil {
					atomic.AddUint64(&cam.packets, 1)
					atomic.AddUint64(&cam.bytes, uint64(len(payload)))
				}
			}
			atomic.AddUint64(&cam.frames, 1)
			if key {
				atomic.AddUint64(&cam.keyframes, 1)
			}
			pictureID = (pictureID + 1) & 0x7fff
			timestamp += uint32(90000 / fps)
		}
	}
}

// ---- receiving: per-consumer counters ----------------------------------------------------

type consumerStats struct {
	key string
	// Counted at the socket: the payload is still encrypted (no keyframe detection; the SFU
	// forwards a consumer only from a keyframe on, so its first packet is one).
	encrypted bool
	mu        sync.Mutex
	packets   uint64
	bytes     uint64
	started   bool
	firstSeq  uint64
	highest   uint64 // extended highest sequence number
	keyframe  bool
	firstAt   int64 // unix ms of the first packet (0: none)
}

func (s *consumerStats) add(b []byte) {
	if len(b) < 12 {
		return
	}
	seq := uint16(b[2])<<8 | uint16(b[3])
	now := time.Now()
	s.mu.Lock()
	s.packets++
	s.bytes += uint64(len(b))
	if !s.started {
		s.started = true
		s.firstSeq = uint64(seq) + 1<<16 // room for reordering before the first packet
		s.highest = s.firstSeq
		s.firstAt = now.UnixMilli()
	} else {
		// Extend: the candidate nearest to the current highest.
		cycle := s.highest &^ 0xffff
		ext := cycle | uint64(seq)
		if ext+0x8000 < s.highest {
			ext += 1 << 16
		} else if ext > s.highest+0x8000 && ext >= 1<<16 {
			ext -= 1 << 16
		}
		if ext > s.highest {
			s.highest = ext
		}
		if ext < s.firstSeq {
			s.firstSeq = ext
		}
	}
	if !s.keyframe && (s.encrypted || isVP8Keyframe(b)) {
		s.keyframe = true
	}
	s.mu.Unlock()
}

// isVP8Keyframe: the first packet of a VP8 keyframe (S bit, partition 0, P bit clear).
func isVP8Keyframe(b []byte) bool {
	cc := int(b[0] & 0x0f)
	off := 12 + 4*cc
	if b[0]&0x10 != 0 { // header extension
		if len(b) < off+4 {
			return false
		}
		off += 4 + 4*(int(b[off+2])<<8|int(b[off+3]))
	}
	if len(b) < off+1 {
		return false
	}
	d := b[off]
	if d&0x10 == 0 || d&0x07 != 0 {
		return false
	}
	p := off + 1
	if d&0x80 != 0 {
		x := b[p]
		p++
		if x&0x80 != 0 {
			if p < len(b) && b[p]&0x80 != 0 {
				p += 2
			} else {
				p++
			}
		}
		if x&0x40 != 0 {
			p++
		}
		if x&0x30 != 0 {
			p++
		}
	}
	return p < len(b) && b[p]&0x01 == 0
}

func consume(c command) (interface{}, error) {
	t, err := getTransport(c.Tid)
	if err != nil {
		return nil, err
	}
	receiver, err := api.NewRTPReceiver(webrtc.RTPCodecTypeVideo, t.dtls)
	if err != nil {
		return nil, err
	}
	err = receiver.Receive(webrtc.RTPReceiveParameters{Encodings: []webrtc.RTPDecodingParameters{
		{RTPCodingParameters: webrtc.RTPCodingParameters{SSRC: webrtc.SSRC(c.Ssrc), PayloadType: webrtc.PayloadType(*vp8PT)}},
	}})
	if err != nil {
		return nil, err
	}
	s := &consumerStats{key: c.Key, encrypted: !*decrypt}
	stateMu.Lock()
	consumers = append(consumers, s)
	stateMu.Unlock()
	if !*decrypt {
		bySSRC.Store(c.Ssrc, s)
	}
	if *decrypt {
		track := receiver.Track()
		go func() {
			b := make([]byte, 1500)
			for {
				n, _, err := track.Read(b)
				if n > 0 {
					s.add(b[:n])
				}
				if err != nil && n == 0 {
					debugf("consumer %s: read: %v", s.key, err)
					return
				}
				if err != nil {
					debugf("consumer %s: %v", s.key, err)
				}
			}
		}()
	}
	// Sender reports from the SFU: read and drop (a full buffer would hold the session up).
	go func() {
		b := make([]byte, 1500)
		for {
			if _, _, err := receiver.Read(b); err != nil {
				return
			}
		}
	}()
	return nil, nil
}

// ---- counting at the socket (default) ----------------------------------------------------
//
// pion's receive path hands every packet through four goroutines (the ICE candidate's read
// loop, the ICE conn, the DTLS/SRTP mux, the SRTP session) and decrypts it: about as much CPU
// per packet as the SFU spends forwarding it, so on a 2-core machine the generator would run
// out first. The receive transports' sockets are therefore pion's only through
// SettingEngine.SetNet (countingNet below): an SRTP packet (RTP version 2, not an RTCP packet
// type) is counted from its clear header — SSRC and sequence number are not encrypted — and
// not passed up; STUN, DTLS and SRTCP go to pion as usual (ICE consent, DTLS, sender reports).

var bySSRC sync.Map // uint32 → *consumerStats
var unknownRTP uint64

// countingNet: pion's network for the receive transports. Its UDP sockets are not Go
// net.UDPConns (one goroutine parked per socket, woken for every packet: as costly as
// pion's own path) but non-blocking sockets read by one poller thread (epoll, then recvfrom
// until the socket is empty, as the SFU's own event loop does): RTP is counted there and
// dropped, the rest (STUN, DTLS, SRTCP) is handed to pion through the conn's ReadFrom.
type countingNet struct {
	*stdnet.Net
	poller *poller
}

func (n countingNet) ListenUDP(network string, laddr *net.UDPAddr) (piontransport.UDPConn, error) {
	if (network != "udp" && network != "udp4") || laddr == nil || laddr.IP.To4() == nil {
		return n.Net.ListenUDP(network, laddr)
	}
	return n.poller.listen(laddr)
}

type inbound struct {
	data []byte
	addr *net.UDPAddr
}

type rawConn struct {
	fd        int
	local     *net.UDPAddr
	in        chan inbound
	closed    chan struct{}
	closeOnce sync.Once
	p         *poller
}

type poller struct {
	epfd  int
	conns sync.Map // fd (int32) → *rawConn
}

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd}
	go p.run()
	return p, nil
}

func (p *poller) listen(laddr *net.UDPAddr) (*rawConn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Port: laddr.Port}
	copy(sa.Addr[:], laddr.IP.To4())
	if err = syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<20) // capped by rmem_max
	name, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	bound := name.(*syscall.SockaddrInet4)
	c := &rawConn{
		fd:     fd,
		local:  &net.UDPAddr{IP: net.IPv4(bound.Addr[0], bound.Addr[1], bound.Addr[2], bound.Addr[3]), Port: bound.Port},
		in:     make(chan inbound, 256),
		closed: make(chan struct{}),
		p:      p,
	}
	p.conns.Store(int32(fd), c)
	if err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
		p.conns.Delete(int32(fd))
		syscall.Close(fd)
		return nil, err
	}
	return c, nil
}

func (p *poller) run() {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 2048)
	var rsa syscall.RawSockaddrInet4
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			fmt.Fprintln(os.Stderr, "epoll:", err)
			return
		}
		for i := 0; i < n; i++ {
			v, ok := p.conns.Load(events[i].Fd)
			if !ok {
				continue
			}
			c := v.(*rawConn)
			for {
				addrLen := uint32(syscall.SizeofSockaddrInet4)
				r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
					syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&addrLen)))
				if e != 0 {
					break // EAGAIN: empty (or closed)
				}
				b := buf[:r]
				if len(b) >= 12 && b[0]&0xc0 == 0x80 && !(b[1] >= 192 && b[1] <= 223) {
					ssrc := uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
					if s, ok := bySSRC.Load(ssrc); ok {
						s.(*consumerStats).add(b)
					} else {
						atomic.AddUint64(&unknownRTP, 1)
					}
					continue
				}
				port := int(rsa.Port>>8 | rsa.Port<<8)
				pkt := inbound{
					data: append([]byte(nil), b...),
					addr: &net.UDPAddr{IP: net.IPv4(rsa.Addr[0], rsa.Addr[1], rsa.Addr[2], rsa.Addr[3]), Port: port},
				}
				select {
				case c.in <- pkt:
				default: // pion is not reading: drop, as a full socket would
				}
			}
		}
	}
}

func (c *rawConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case pkt := <-c.in:
		return copy(b, pkt.data), pkt.addr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *rawConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.IP.To4() == nil {
		return 0, fmt.Errorf("not an IPv4 UDP address: %v", addr)
	}
	sa := &syscall.SockaddrInet4{Port: ua.Port}
	copy(sa.Addr[:], ua.IP.To4())
	for tries := 0; ; tries++ {
		err := syscall.Sendto(c.fd, b, 0, sa)
		if err == syscall.EAGAIN && tries < 100 {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
}

func (c *rawConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = syscall.EpollCtl(c.p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
		c.p.conns.Delete(int32(c.fd))
		syscall.Close(c.fd)
	})
	return nil
}

// A deadline in the past is how pion's candidate stops its read loop: treated as closing.
func (c *rawConn) SetDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		return c.Close()
	}
	return nil
}
func (c *rawConn) SetReadDeadline(t time.Time) error { return c.SetDeadline(t) }
func (c *rawConn) SetWriteDeadline(time.Time) error  { return nil }
func (c *rawConn) SetReadBuffer(n int) error {
	return syscall.SetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
func (c *rawConn) SetWriteBuffer(n int) error {
	return syscall.SetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, n)
}
func (c *rawConn) LocalAddr() net.Addr  { return c.local }
func (c *rawConn) RemoteAddr() net.Addr { return nil }
func (c *rawConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFrom(b)
	return n, err
}
func (c *rawConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFrom(b)
	ua, _ := addr.(*net.UDPAddr)
	return n, ua, err
}
func (c *rawConn) ReadMsgUDP(b, oob []byte) (int, int, int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFromUDP(b)
	return n, 0, 0, addr, err
}
func (c *rawConn) Write([]byte) (int, error) { return 0, errors.New("not connected") }
func (c *rawConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	return c.WriteTo(b, addr)
}
func (c *rawConn) WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (int, int, error) {
	n, err := c.WriteTo(b, addr)
	return n, 0, err
}

// ---- stats -----------------------------------------------------------------------------

func stats() (interface{}, error) {
	stateMu.Lock()
	cams := append([]*camera(nil), cameras...)
	cons := append([]*consumerStats(nil), consumers...)
	stateMu.Unlock()
	ps := make([]map[string]interface{}, 0, len(cams))
	for _, cam := range cams {
		ps = append(ps, map[string]interface{}{
			"key":       cam.key,
			"packets":   atomic.LoadUint64(&cam.packets),
			"bytes":     atomic.LoadUint64(&cam.bytes),
			"frames":    atomic.LoadUint64(&cam.frames),
			"keyframes": atomic.LoadUint64(&cam.keyframes),
			"plis":      atomic.LoadUint64(&cam.plis),
		})
	}
	cs := make([]map[string]interface{}, 0, len(cons))
	for _, s := range cons {
		s.mu.Lock()
		expected := uint64(0)
		if s.started {
			expected = s.highest - s.firstSeq + 1
		}
		cs = append(cs, map[string]interface{}{
			"key":      s.key,
			"packets":  s.packets,
			"bytes":    s.bytes,
			"expected": expected,
			"keyframe": s.keyframe,
			"firstAt":  s.firstAt,
		})
		s.mu.Unlock()
	}
	return map[string]interface{}{
		"at":         time.Now().UnixMilli(),
		"goroutines": runtime.NumGoroutine(),
		"unknownRtp": atomic.LoadUint64(&unknownRTP),
		"senders":    ps,
		"consumers":  cs,
	}, nil
}

func dtlsProfileCM() []dtls.SRTPProtectionProfile {
	return []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80}
}

func newAPI(keepalive time.Duration, counting bool) *webrtc.API {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}},
		PayloadType: webrtc.PayloadType(*vp8PT),
	}, webrtc.RTPCodecTypeVideo); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := webrtc.SettingEngine{}
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if *ifaceName != "" {
		name := *ifaceName
		s.SetInterfaceFilter(func(n string) bool { return n == name })
	}
	if counting {
		n, err := stdnet.NewNet()
		if err == nil {
			var p *poller
			if p, err = newPoller(); err == nil {
				s.SetNet(countingNet{n, p})
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	// No failure on our side while the SFU is saturated: the benchmark wants to see the loss.
	s.SetICETimeouts(10*time.Second, 120*time.Second, keepalive)
	s.DisableSRTPReplayProtection(true)
	s.DisableSRTCPReplayProtection(true)
	if !*srtpGCM {
		s.SetSRTPProtectionProfiles(dtlsProfileCM()...)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s))
}

// ---- main ------------------------------------------------------------------------------

func main() {
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	api = newAPI(*keepalive, !*decrypt)
	sendAPI = newAPI(400*time.Millisecond, false)

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		var c command
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			reply(0, nil, fmt.Errorf("bad command: %w", err))
			continue
		}
		switch c.Op {
		case "transport":
			r, err := newTransport(c)
			reply(c.ID, r, err)
		case "connect":
			go func(c command) { r, err := connect(c); reply(c.ID, r, err) }(c)
		case "sender":
			r, err := newSender(c)
			reply(c.ID, r, err)
		case "send":
			r, err := startSending(c)
			reply(c.ID, r, err)
		case "consume":
			r, err := consume(c)
			reply(c.ID, r, err)
		case "stats":
			r, err := stats()
			reply(c.ID, r, err)
		case "close":
			reply(c.ID, nil, nil)
			pprof.StopCPUProfile()
			os.Exit(0)
		default:
			reply(c.ID, nil, fmt.Errorf("unknown op %q", c.Op))
		}
	}
	os.Exit(0)
}
