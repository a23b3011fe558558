#separator \x09
#set_separator	,
#empty_field	(empty)
#unset_field	-
#path	conn
#open	2025-04-09-16-10-07
#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	orig_bytes	resp_bytes	conn_state	local_orig	local_resp	missed_bytes	history	orig_pkts	orig_ip_bytes	resp_pkts	resp_ip_bytes	tunnel_parents	ip_proto
#types	time	string	addr	port	addr	port	enum	string	interval	count	count	string	bool	bool	count	string	count	count	count	count	set[string]	count
1744215007.942109	C137BvL8TTMxDdWCLE	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215008.106360	C1Xlb9e2NcWRnO0MM7	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215008.267733	C0wXtEEQ4JD2LqBF3I	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215008.429584	C1MDa8vON6doYB5xrY	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215008.592802	C14ufOBYV5pX8Ttko2	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215008.752536	C11CsZi4LNmXLuDIUA	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215008.916414	C0GEr34aiy0Hg1O28Z	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215009.080945	C0IwwVCHIXVz77GCNy	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215009.242610	C0owgYqLCPva0l7UtP	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215009.403443	C1e2zV02UDU99napna	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215009.566680	C1YNKTZkbyKyqhimVf	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215009.728710	C0upqh9rbKVZPgz3Ws	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215009.805883	C0vMGoslBJYu9Zorws	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	OTH	T	T	0	C	0	0	0	0	-	6
1744215009.896395	C1eAlwlMYghiuT3xhH	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215010.056738	C19j1hvLCaKHwjiPct	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215010.218320	C0K8OLpG1lwvKkD3Po	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215010.382685	C0RmNRAIH6dmbCsL2s	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215010.546655	C1GzD8Gk1JEOiccaii	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215010.710058	C0wj6aUDxGbPrMrNVQ	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215010.829625	C0N3fl0T7o35nWsBRj	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	OTH	T	T	0	C	0	0	0	0	-	6
1744215010.874151	C0FDSR3eeu3kvbBzaS	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215011.037151	C0oazdzoao01kguAXv	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215011.199666	C0uoHHNwD9xALnETho	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	S0	T	T	0	S	1	40	0	0	-	6
1744215011.853630	C17VuFWAvMkHLXfdm4	100.73.5.8	45511	100.73.2.4	80	tcp	-	-	-	-	OTH	T	T	0	C	0	0	0	0	-	6
1744215011.859295	C0DEfl0I3T9IBI4Mey	100.73.5.8	45511	100.73.2.4	80	tcp	-	0.539997	0	0	OTH	T	T	0	^hCa	0	0	4	216	-	6
#close	2025-04-09-16-10-12
