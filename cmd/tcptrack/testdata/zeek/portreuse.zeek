#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2025-04-09-16-10-07
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]
1744215007.942109	C1d3kZOSSj7QXYRmFu	100.73.5.8	45511	100.73.2.4	80	tcp	-	4.457183	1626	0	S2	-	-	0	ShADaF	28	2854	4	216	-
#close	2025-04-09-16-10-12
