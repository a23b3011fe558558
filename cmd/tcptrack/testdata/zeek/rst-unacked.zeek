#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2018-12-14-17-22-19
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents	ip_proto
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]	count
1544808139.211584	C0j2WCjAklDhY0BCog	10.12.14.101	49254	110.37.219.134	990	tcp	-	101.137506	757	204443	RSTO	T	F	27336	ShADagdtgtR	106	5293	146	184255	-	6
#close	2018-12-14-17-24-00
