package main

import "github.com/Shopify/toxiproxy/v2/toxics"

// BlackholeToxic is a WAN black hole on one direction of a link: the path
// drops every packet, so nothing the sender writes reaches the other side
// while the toxic is in place -- neither its bytes nor its close (FIN).
// TCP retransmits what the path dropped, so when the path heals (the toxic
// is removed) what was held is delivered in order, a held close included.
//
// The toxic never reads its input: the link's buffers and then the
// sender's socket buffers fill, and the sender blocks as it would on a
// window of unacknowledged data. On removal, toxiproxy's
// ToxicLink.RemoveToxic (link.go, v2.12.0) forwards what is queued to the
// next stub before relinking the chain, and closes the stub when the queue
// holds the end of the stream.
//
// Why not stock toxiproxy's timeout toxic with timeout=0 (toxics/timeout.go,
// v2.12.0): it drops bytes on the floor, which TCP never does on an open
// connection; it passes a close through at once (a nil chunk closes the
// stub), so a server that gives up on a silent client is seen to hang up
// across the black hole; and its Cleanup closes every connection when the
// toxic is removed.
//
// What toxiproxy cannot model: a connection opened during the cut is still
// accepted by the far side (toxiproxy connects upstream on accept), where a
// real black hole drops the SYN; the far side then holds an idle
// connection.
type BlackholeToxic struct{}

// Pipe holds the stream until the toxic is interrupted (removed, or the
// chain is changed); it reads nothing.
func (t *BlackholeToxic) Pipe(stub *toxics.ToxicStub) {
	<-stub.Interrupt
}

func init() {
	toxics.Register("blackhole", new(BlackholeToxic))
}
