// Package assemble turns capture files into the segments a flow table
// takes. Reader streams pcap and pcapng records (Merger interleaves several
// files by time); Decoder peels off the link layer, VLAN tags, MPLS, PPPoE,
// IPv4 (options, fragment reassembly) and IPv6 (extension headers, fragment
// reassembly) into a reused flowtable.Packet, as the kernel's conntrack
// would see the datagram; Filter applies tcpdump expressions; Pipeline
// runs records through a Decoder into a flowtable.Table. Neither Reader.Next
// nor Decoder.Decode allocates.
//
// BPF expressions are compiled by libpcap through cgo (filter_pcap.go);
// built with CGO_ENABLED=0 the package is pure Go and NewFilter reports
// that filters need libpcap.
package assemble
