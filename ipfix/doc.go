// Package ipfix exports tcptrack's connection records as IPFIX (RFC 7011):
// one biflow record (RFC 5103) per connection, sent to a collector over UDP
// or TCP or written to an IPFIX file (RFC 5655). It also decodes what it
// encodes, for tests and for reading such files back. Pure Go, no cgo.
//
// # Information elements
//
// Every element is an IANA one; the responder's counters and flags are the
// RFC 5103 reverse elements (enterprise number 29305, the number RFC 5103
// reserves for them). No other enterprise number is used: tcptrack has none
// of its own.
//
//	element                           id    len  carries
//	sourceIPv4Address / IPv6Address   8/27  4/16 the initiator (conntrack's original source)
//	destinationIPv4Address / IPv6     12/28 4/16 the responder
//	sourceTransportPort               7     2    initiator's port
//	destinationTransportPort          11    2    responder's port
//	protocolIdentifier                4     1    6 (TCP)
//	flowStartMilliseconds             152   8    the first packet of the connection
//	flowEndMilliseconds               153   8    the last packet seen for it
//	octetDeltaCount                   1     8    IP bytes initiator → responder since the last record
//	packetDeltaCount                  2     8    packets initiator → responder since the last record
//	reverse octetDeltaCount           1*    8    IP bytes responder → initiator (PEN 29305)
//	reverse packetDeltaCount          2*    8    packets responder → initiator (PEN 29305)
//	reverse tcpControlBits            6*    2    TCP flags the responder sent (PEN 29305)
//	tcpControlBits                    6     2    TCP flags the initiator sent
//	flowEndReason                     136   1    why the record was made (see EndReason)
//	biflowDirection                   239   1    1: initiator (the source is the connection's initiator)
//	applicationDescription            94    var  the state text (see State)
//
// The reverse tcpControlBits comes before the forward one: collectors that
// do not know the reverse form of an element take it as the forward one
// (nfdump 1.7 does), and the later, forward value then wins.
//
// IANA has no element for a connection-tracking state or a socket state,
// and an element of our own would need an enterprise number of our own. The
// conntrack state, its ASSURED/UNREPLIED flags and both endpoints' socket
// states therefore travel as one short text in applicationDescription, in
// the words conntrack -L and netstat use:
//
//	ESTABLISHED [ASSURED] orig=ESTABLISHED reply=ESTABLISHED
//
// Counters are delta counters: a connection reported more than once (the
// active timeout of a live capture) has each record count what happened
// since the previous one, so a collector's sum over the records is the
// connection's total.
package ipfix
