/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration loader: good configurations parse to the right values, and
 * every class of mistake is refused with a message that names the file, the
 * section, the key and the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rs_config.h"

/* The smallest configuration: the two required keys. */
#define REQUIRED "[port]\ndevargs = net_ring0\n[net]\nip = 10.1.2.3\n"

/* The quotas an app's [quotas] line may set, as errors list them. */
#define QUOTA_NAMES                                                            \
	"(sockets, buffered_bytes, pending_calls, output_bytes, listeners, "   \
	"parked_bytes, control_calls)"
static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static int load(struct rs_config *cfg, const char *text, char *err,
		size_t errlen)
{
	return rs_config_load_buffer(cfg, "x.ini", text, strlen(text), err,
				     errlen);
}

/* Refused, with exactly @p msg. */
static void refused(const char *text, const char *msg)
{
	struct rs_config cfg;
	char err[512] = "";

	assert_int_equal(load(&cfg, text, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
}

/* Refused with @p msg: [section] with @p max + 1 entries KEY<i> = VALUE. */
static void refused_over(const char *section, const char *key,
			 const char *value, int max, const char *msg)
{
	char text[8192];
	size_t len;

	snprintf(text, sizeof(text), REQUIRED "[%s]\n", section);
	for (int i = 0; i <= max; i++) {
		len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "%s%d = %s\n", key, i,
			 value);
	}
	assert_true(strlen(text) < sizeof(text) - 1);
	refused(text, msg);
}

static void test_embedded_default(void **state)
{
	struct rs_config cfg;
	char err[512] = "";
	size_t len = 0;
	const char *text = rs_config_default_text(&len);

	assert_non_null(strstr(text, "[port]"));
	assert_int_equal(strlen(text), len);
	assert_int_equal(rs_config_load_default(&cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(cfg.source, RS_CONFIG_DEFAULT_NAME);
	assert_string_equal(cfg.port.devargs, "net_tap0,iface=rs-tap0");
	assert_int_equal(cfg.net.ip, ip("198.18.0.2"));
	assert_int_equal(cfg.net.prefix, 24);
	assert_int_equal(cfg.net.gateway, 0);
	assert_true(cfg.workers.idle_backoff);
	assert_int_equal(cfg.workers.count, 1);
	assert_non_null(strstr(cfg.eal.args, "--in-memory"));
}

static void test_minimal_takes_defaults(void **state)
{
	struct rs_config cfg, def;
	char err[512] = "";

	assert_int_equal(load(&cfg, REQUIRED, err, sizeof(err)), 0);
	assert_int_equal(rs_config_load_default(&def, NULL, 0), 0);
	assert_string_equal(cfg.source, "x.ini");
	assert_string_equal(cfg.port.devargs, "net_ring0");
	assert_int_equal(cfg.net.ip, ip("10.1.2.3"));
	assert_string_equal(cfg.eal.args, def.eal.args);
	assert_int_equal(cfg.port.rx_desc, def.port.rx_desc);
	assert_int_equal(cfg.port.mbufs, def.port.mbufs);
	assert_true(cfg.port.tso && cfg.port.lro); /* on by default */
	assert_int_equal(cfg.workers.idle_sleep_max_us,
			 def.workers.idle_sleep_max_us);
	assert_int_equal(cfg.limits.sock_rx_ring, def.limits.sock_rx_ring);
	assert_int_equal(cfg.rpc.listen_port, def.rpc.listen_port);
	assert_int_equal(cfg.rpc.http_port, 0); /* the HTTP endpoint is off */
	assert_int_equal(cfg.rpc.http_idle_s, 60);
}

static void test_every_key(void **state)
{
	static const uint8_t mac[6] = {0x02, 0, 0xc6, 0x12, 0, 0x02};
	struct rs_config cfg;
	char err[512] = "";
	char buf[RS_CONFIG_VALUE_MAX];
	char *argv[8];
	const char *full =
	    "# every key; comments of both kinds; CRLF line ends too\r\n"
	    "[eal]\r\nargs = -l 0-2  --in-memory\t-m 128 ; comment\r\n"
	    "[port]\n  devargs=net_tap0,iface=a#b  \n\n"
	    "rx_desc = 1024\ntx_desc = 256\nmbufs = 8191\n"
	    "mbuf_cache = 64\nmtu = 9000\nlink_timeout_ms = 100\n"
	    "tso = off\nlro = off\n"
	    "[net]\nip = 198.18.1.7\nprefix = 23\n"
	    "gateway = 198.18.0.1\nmac = 02:00:c6:12:00:02\n"
	    "[workers]\ncount = 2\nburst = 64\nidle_backoff = no\n"
	    "idle_polls = 10\nidle_sleep_max_us = 1000\n"
	    "[rpc]\nlisten_port = 65535\nhttp_port = 8080\nhttp_idle_s = 5\n"
	    "[limits]\nmsg_ring_size = 64\nsock_rx_ring = 4096\n"
	    "sock_tx_ring = 67108864\n";

	assert_int_equal(load(&cfg, full, err, sizeof(err)), 0);
	assert_string_equal(cfg.port.devargs, "net_tap0,iface=a#b");
	assert_int_equal(cfg.port.rx_desc, 1024);
	assert_int_equal(cfg.port.tx_desc, 256);
	assert_int_equal(cfg.port.mbufs, 8191);
	assert_int_equal(cfg.port.mbuf_cache, 64);
	assert_int_equal(cfg.port.mtu, 9000);
	assert_int_equal(cfg.port.link_timeout_ms, 100);
	assert_false(cfg.port.tso);
	assert_false(cfg.port.lro);
	assert_int_equal(cfg.net.ip, ip("198.18.1.7"));
	assert_int_equal(cfg.net.prefix, 23);
	assert_int_equal(cfg.net.gateway, ip("198.18.0.1"));
	assert_memory_equal(cfg.net.mac, mac, 6);
	assert_int_equal(cfg.workers.count, 2);
	assert_int_equal(cfg.workers.burst, 64);
	assert_false(cfg.workers.idle_backoff);
	assert_int_equal(cfg.workers.idle_polls, 10);
	assert_int_equal(cfg.workers.idle_sleep_max_us, 1000);
	assert_int_equal(cfg.rpc.listen_port, 65535);
	assert_int_equal(cfg.rpc.http_port, 8080);
	assert_int_equal(cfg.rpc.http_idle_s, 5);
	assert_int_equal(cfg.limits.msg_ring_size, 64);
	assert_int_equal(cfg.limits.sock_rx_ring, 4096);
	assert_int_equal(cfg.limits.sock_tx_ring, 67108864);

	assert_int_equal(rs_config_eal_split(&cfg, buf, argv, 8), 5);
	assert_string_equal(argv[0], "-l");
	assert_string_equal(argv[1], "0-2");
	assert_string_equal(argv[2], "--in-memory");
	assert_string_equal(argv[4], "128");
	assert_int_equal(rs_config_eal_split(&cfg, buf, argv, 4), -E2BIG);
}

/* The socket layer's sections: every key parses to its field. */
static void test_socket_keys(void **state)
{
	struct rs_config cfg;
	char err[512] = "";
	const char *text =
	    REQUIRED "[sockets]\nmax = 16\nudp_rx_ring = 8192\n"
		     "ephemeral_min = 1024\nephemeral_max = 1024\n"
		     "icmp_unreach_rate = 0\n"
		     "[arp]\npending = 2\nqueue = 3\nretries = 4\n"
		     "retry_ms = 10\nttl_s = 60\n"
		     "[tcp]\nmax_conns = 16\nbacklog = 5\nmss = 536\n"
		     "rto_min_ms = 100\nrto_max_ms = 100\nsyn_retries = 2\n"
		     "retries = 3\ntime_wait_ms = 0\ntw_reuse_ms = 5\n"
		     "delack_ms = 0\n"
		     "keepidle_s = 10\nkeepintvl_s = 2\nkeepcnt = 4\n"
		     "close_grace_ms = 7\ntimestamps = off\nsack = on\n"
		     "congestion = newreno\n";

	assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
	assert_int_equal(cfg.sockets.max, 16);
	assert_int_equal(cfg.sockets.udp_rx_ring, 8192);
	assert_int_equal(cfg.sockets.ephemeral_min, 1024);
	assert_int_equal(cfg.sockets.ephemeral_max, 1024);
	assert_int_equal(cfg.sockets.icmp_unreach_rate, 0);
	assert_int_equal(cfg.arp.pending, 2);
	assert_int_equal(cfg.arp.queue, 3);
	assert_int_equal(cfg.arp.retries, 4);
	assert_int_equal(cfg.arp.retry_ms, 10);
	assert_int_equal(cfg.arp.ttl_s, 60);
	assert_int_equal(cfg.tcp.max_conns, 16);
	assert_int_equal(cfg.tcp.backlog, 5);
	assert_int_equal(cfg.tcp.mss, 536);
	assert_int_equal(cfg.tcp.rto_min_ms, 100);
	assert_int_equal(cfg.tcp.rto_max_ms, 100);
	assert_int_equal(cfg.tcp.syn_retries, 2);
	assert_int_equal(cfg.tcp.retries, 3);
	assert_int_equal(cfg.tcp.time_wait_ms, 0);
	assert_int_equal(cfg.tcp.tw_reuse_ms, 5);
	assert_int_equal(cfg.tcp.delack_ms, 0);
	assert_int_equal(cfg.tcp.keepidle_s, 10);
	assert_int_equal(cfg.tcp.keepintvl_s, 2);
	assert_int_equal(cfg.tcp.keepcnt, 4);
	assert_int_equal(cfg.tcp.close_grace_ms, 7);
	assert_false(cfg.tcp.timestamps);
	assert_true(cfg.tcp.sack);
	assert_int_equal(cfg.tcp.congestion, RS_CONFIG_CC_NEWRENO);
	assert_int_equal(cfg.nroutes, 0);

	/* The defaults are sane: a range that is not empty, rto ordered. */
	assert_int_equal(rs_config_load_default(&cfg, NULL, 0), 0);
	assert_true(cfg.sockets.ephemeral_min < cfg.sockets.ephemeral_max);
	assert_true(cfg.tcp.rto_min_ms <= cfg.tcp.rto_max_ms);
	assert_true(cfg.arp.queue >= 1 && cfg.tcp.max_conns >= 16);
	assert_true(cfg.tcp.timestamps && cfg.tcp.sack);
	/* CUBIC is the data plane's default; "cubic" parses to it. */
	assert_int_equal(cfg.tcp.congestion, RS_CONFIG_CC_CUBIC);
	assert_int_equal(load(&cfg, REQUIRED "[tcp]\ncongestion = newreno\n",
			      err, sizeof(err)),
			 0);
	assert_int_equal(cfg.tcp.congestion, RS_CONFIG_CC_NEWRENO);
	assert_int_equal(load(&cfg, REQUIRED "[tcp]\ncongestion = cubic\n", err,
			      sizeof(err)),
			 0);
	assert_int_equal(cfg.tcp.congestion, RS_CONFIG_CC_CUBIC);
	refused(REQUIRED "[tcp]\ncongestion = vegas\n",
		"x.ini: [tcp] congestion: 'vegas' is not cubic or newreno");
	refused(REQUIRED "[tcp]\ncongestion = CUBIC\n",
		"x.ini: [tcp] congestion: 'CUBIC' is not cubic or newreno");

	refused(REQUIRED "[sockets]\nephemeral_min = 5000\n"
			 "ephemeral_max = 4999\n",
		"x.ini: [sockets] ephemeral_min: '5000' is above "
		"ephemeral_max (4999)");
	refused(REQUIRED "[rpc]\nclients = 198.18.0.1/8\n",
		"x.ini: [rpc] clients: '198.18.0.1/8' is not a network "
		"(PREFIX/LEN, no bits past LEN), or more than 16");
	refused(REQUIRED "[tcp]\nrto_min_ms = 2000\nrto_max_ms = 1000\n",
		"x.ini: [tcp] rto_min_ms: '2000' is above rto_max_ms (1000)");
	refused(REQUIRED "[tcp]\nmax_conns = 1024\n[rpc]\nmax_conns = 1024\n",
		"x.ini: [rpc] max_conns: '1024' leaves the tenants no room: it "
		"must be below [tcp] max_conns (1024) and [sockets] max "
		"(4096)");
	refused(REQUIRED "[sockets]\nudp_rx_ring = 5000\n",
		"x.ini: [sockets] udp_rx_ring: '5000' is not a power of two");
	refused(REQUIRED "[arp]\nqueue = 0\n",
		"x.ini: [arp] queue: '0' is out of range (1..256)");
}

/* [routes]: free names, parsed and checked against the subnet. */
static void test_routes(void **state)
{
	struct rs_config cfg;
	char err[512] = "";
	const char *good = REQUIRED "[routes]\n"
				    "lab = 203.0.113.0/24 via 10.1.2.1\n"
				    "default = 0.0.0.0/0  via  10.1.2.254\n"
				    "host = 192.0.2.7/32 via 10.1.2.9 ; one\n";

	assert_int_equal(load(&cfg, good, err, sizeof(err)), 0);
	assert_int_equal(cfg.nroutes, 3);
	assert_string_equal(cfg.routes[0].name, "lab");
	assert_int_equal(cfg.routes[0].prefix, ip("203.0.113.0"));
	assert_int_equal(cfg.routes[0].len, 24);
	assert_int_equal(cfg.routes[0].via, ip("10.1.2.1"));
	assert_string_equal(cfg.routes[1].name, "default");
	assert_int_equal(cfg.routes[1].prefix, 0);
	assert_int_equal(cfg.routes[1].len, 0);
	assert_int_equal(cfg.routes[1].via, ip("10.1.2.254"));
	assert_int_equal(cfg.routes[2].len, 32);
	assert_int_equal(cfg.routes[2].via, ip("10.1.2.9"));

	refused(REQUIRED "[routes]\nlab = 203.0.113.0/24\n",
		"x.ini: [routes] lab: '203.0.113.0/24' is not 'PREFIX/LEN via "
		"GATEWAY' (e.g. 203.0.113.0/24 via 198.18.0.1)");
	refused(REQUIRED "[routes]\nlab = 203.0.113.0/33 via 10.1.2.1\n",
		"x.ini: [routes] lab: '203.0.113.0/33 via 10.1.2.1' is not "
		"'PREFIX/LEN via GATEWAY' (e.g. 203.0.113.0/24 via "
		"198.18.0.1)");
	refused(REQUIRED "[routes]\nlab = 203.0.113.0/24 via 10.1.2.1 x\n",
		"x.ini: [routes] lab: '203.0.113.0/24 via 10.1.2.1 x' is not "
		"'PREFIX/LEN via GATEWAY' (e.g. 203.0.113.0/24 via "
		"198.18.0.1)");
	refused(REQUIRED "[routes]\nlab = 203.0.113.1/24 via 10.1.2.1\n",
		"x.ini: [routes] lab: '203.0.113.1/24 via 10.1.2.1' has "
		"address bits set past the prefix length");
	refused(REQUIRED "[routes]\nlab = 203.0.113.0/24 via 10.9.2.1\n",
		"x.ini: [routes] lab: gateway '10.9.2.1' is not a unicast "
		"address inside 10.1.2.3/24 other than [net] ip");
	refused(REQUIRED "[routes]\nlab = 203.0.113.0/24 via 10.1.2.3\n",
		"x.ini: [routes] lab: gateway '10.1.2.3' is not a unicast "
		"address inside 10.1.2.3/24 other than [net] ip");
	refused(REQUIRED "[routes]\na = 1.0.0.0/8 via 10.1.2.1\n"
			 "a = 2.0.0.0/8 via 10.1.2.1\n",
		"x.ini:7: [routes] a: key given twice");

	refused_over("routes", "r", "10.100.0.0/16 via 10.1.2.1",
		     RS_CONFIG_ROUTES_MAX,
		     "x.ini: [routes] r32: more than 32 routes");
}

/* [service], [acl], [apps] and [quotas]: every key and list parses. */
static void test_service_keys(void **state)
{
	struct rs_config cfg;
	char err[512] = "";
	const char *text =
	    REQUIRED "[service]\nidle_timeout_s = 0\nauth_timeout_ms = 100\n"
		     "[acl]\nhole = deny 198.18.5.0/24\n"
		     "testnet = allow 198.18.0.0/15\n"
		     "smtp = deny 0.0.0.0/0 25\n"
		     "web = allow 10.0.0.0/8 8000-8099\n"
		     "host = allow 10.1.2.4/32 0-65535\n"
		     "[apps]\nzeta = 0123456789abcdef\n"
		     "a_1 = x/y+z=w#v;u-t_s.r~q!p\n"
		     "[quotas]\nsockets = 1\nbuffered_bytes = 4294967295\n"
		     "pending_calls = 1048576\n"
		     "a_1 = sockets=4194304,buffered_bytes=4096 "
		     "pending_calls=7\n";

	assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.service.idle_timeout_s, 0);
	assert_int_equal(cfg.service.auth_timeout_ms, 100);

	assert_int_equal(cfg.nacl, 5);
	assert_string_equal(cfg.acl[0].name, "hole");
	assert_false(cfg.acl[0].allow);
	assert_int_equal(cfg.acl[0].prefix, ip("198.18.5.0"));
	assert_int_equal(cfg.acl[0].len, 24);
	assert_int_equal(cfg.acl[0].port_lo, 0);
	assert_int_equal(cfg.acl[0].port_hi, 65535);
	assert_string_equal(cfg.acl[1].name, "testnet");
	assert_true(cfg.acl[1].allow);
	assert_int_equal(cfg.acl[1].len, 15);
	assert_int_equal(cfg.acl[2].prefix, 0);
	assert_int_equal(cfg.acl[2].len, 0);
	assert_int_equal(cfg.acl[2].port_lo, 25);
	assert_int_equal(cfg.acl[2].port_hi, 25);
	assert_int_equal(cfg.acl[3].port_lo, 8000);
	assert_int_equal(cfg.acl[3].port_hi, 8099);
	assert_int_equal(cfg.acl[4].len, 32);

	assert_int_equal(cfg.napps, 2);
	assert_string_equal(cfg.apps[0].id, "zeta");
	assert_string_equal(cfg.apps[0].secret, "0123456789abcdef");
	assert_string_equal(cfg.apps[1].id, "a_1");
	assert_string_equal(cfg.apps[1].secret, "x/y+z=w#v;u-t_s.r~q!p");

	assert_int_equal(cfg.quotas.sockets, 1);
	assert_int_equal(cfg.quotas.buffered_bytes, 4294967295u);
	assert_int_equal(cfg.quotas.pending_calls, 1048576);
	/* zeta takes [quotas]; a_1 its own entry's */
	assert_int_equal(cfg.apps[0].quota.sockets, 1);
	assert_int_equal(cfg.apps[0].quota.buffered_bytes, 4294967295u);
	assert_int_equal(cfg.apps[0].quota.pending_calls, 1048576);
	assert_int_equal(cfg.apps[1].quota.sockets, 4194304);
	assert_int_equal(cfg.apps[1].quota.buffered_bytes, 4096);
	assert_int_equal(cfg.apps[1].quota.pending_calls, 7);

	/* An entry may give some quotas only. */
	assert_int_equal(load(&cfg,
			      REQUIRED "[quotas]\nsockets = 9\n"
				       "demo = pending_calls=3\n",
			      err, sizeof(err)),
			 0);
	assert_int_equal(cfg.apps[0].quota.sockets, 9);
	assert_int_equal(cfg.apps[0].quota.pending_calls, 3);
	assert_int_equal(cfg.apps[0].quota.buffered_bytes,
			 cfg.quotas.buffered_bytes);
}

/* The default: the demo app and the benchmark range open; a file's list
 * section replaces the default's list, other sections are kept. */
static void test_list_layers(void **state)
{
	struct rs_config cfg, def;
	char err[512] = "";

	assert_int_equal(rs_config_load_default(&def, NULL, 0), 0);
	assert_int_equal(def.napps, 1);
	assert_string_equal(def.apps[0].id, "demo");
	assert_string_equal(def.apps[0].secret,
			    "demo-secret-not-for-production");
	assert_int_equal(def.nacl, 1);
	assert_string_equal(def.acl[0].name, "testnet");
	assert_true(def.acl[0].allow);
	assert_int_equal(def.acl[0].prefix, ip("198.18.0.0"));
	assert_int_equal(def.acl[0].len, 15);
	assert_int_equal(def.service.idle_timeout_s, 600);
	assert_int_equal(def.service.close_wait_ms, 30000);
	assert_true(def.quotas.sockets > 0 && def.quotas.pending_calls > 0);
	assert_memory_equal(&def.apps[0].quota, &def.quotas,
			    sizeof(def.quotas));

	/* Left out: the default's lists. */
	assert_int_equal(load(&cfg, REQUIRED, err, sizeof(err)), 0);
	assert_int_equal(cfg.napps, 1);
	assert_int_equal(cfg.nacl, 1);
	assert_int_equal(cfg.service.auth_timeout_ms,
			 def.service.auth_timeout_ms);

	/* Given: only the file's entries, even none for [acl]. */
	assert_int_equal(load(&cfg,
			      REQUIRED "[acl]\n[apps]\n"
				       "mine = mine-mine-mine-mine\n",
			      err, sizeof(err)),
			 0);
	assert_int_equal(cfg.nacl, 0);
	assert_int_equal(cfg.napps, 1);
	assert_string_equal(cfg.apps[0].id, "mine");

	/* The demo app is gone, so its quotas entry has nobody. */
	refused(REQUIRED "[apps]\nmine = mine-mine-mine-mine\n"
			 "[quotas]\ndemo = sockets=1\n",
		"x.ini: [quotas] demo: no app 'demo' in [apps]");
	refused(REQUIRED "[apps]\n",
		"x.ini: [apps]: no app (at least one 'APP_ID = SECRET' is "
		"needed)");
}

/* [dns] and [hosts]: servers, names (case folded), addresses; refusals
 * name the entry and what is wrong. */
static void test_dns_and_hosts(void **state)
{
	struct rs_config cfg;
	char err[512] = "";
	const char *text = REQUIRED "[dns]\nservers = 198.18.0.1, 198.18.0.3\n"
				    "timeout_ms = 10\ntries = 10\n"
				    "[hosts]\nw = Web.Example 198.18.0.9\n"
				    "m = m-1.x 1.2.3.4 1.2.3.5,1.2.3.6\n";

	assert_int_equal(load(&cfg, text, err, sizeof(err)), 0);
	assert_int_equal(cfg.dns.nservers, 2);
	assert_int_equal(cfg.dns.servers[1], ip("198.18.0.3"));
	assert_int_equal(cfg.dns.timeout_ms, 10);
	assert_int_equal(cfg.dns.tries, 10);
	assert_int_equal(cfg.nhosts, 2);
	assert_string_equal(cfg.hosts[0].name, "web.example");
	assert_int_equal(cfg.hosts[0].naddr, 1);
	assert_int_equal(cfg.hosts[1].naddr, 3);
	assert_int_equal(cfg.hosts[1].addr[2], ip("1.2.3.6"));

	/* The default has no server and one host, which a [hosts] replaces. */
	assert_int_equal(load(&cfg, REQUIRED, err, sizeof(err)), 0);
	assert_int_equal(cfg.dns.nservers, 0);
	assert_int_equal(cfg.nhosts, 1);
	assert_string_equal(cfg.hosts[0].name, "peer.remsock.test");

	refused(REQUIRED "[dns]\nservers = 1.2.3.4 dns.example\n",
		"x.ini: [dns] servers: 'dns.example' is not an IPv4 address, "
		"or more than 4 servers");
	refused(REQUIRED "[dns]\nservers = 1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 "
			 "1.1.1.5\n",
		"x.ini: [dns] servers: '1.1.1.5' is not an IPv4 address, or "
		"more than 4 servers");
	refused(REQUIRED "[dns]\nservers = 10.1.2.3\n",
		"x.ini: [dns] servers: the proxy's own address cannot be its "
		"DNS server");
	refused(REQUIRED "[hosts]\nh = web_1 1.2.3.4\n",
		"x.ini: [hosts] h: 'web_1 1.2.3.4': expected 'HOSTNAME "
		"ADDRESS...' (e.g. web.example 198.18.0.1)");
	refused(REQUIRED "[hosts]\nh = web.example\n",
		"x.ini: [hosts] h: 'web.example': 1 to 4 IPv4 addresses after "
		"the name");
	refused(REQUIRED "[hosts]\nh = web.example 1.2.3\n",
		"x.ini: [hosts] h: '1.2.3': 1 to 4 IPv4 addresses after the "
		"name");
	refused(REQUIRED "[hosts]\na = x.y 1.2.3.4\nb = X.Y 1.2.3.5\n",
		"x.ini: [hosts] b: x.y is given by a already");
	refused_over("hosts", "h", "x.y 1.2.3.4", RS_CONFIG_HOSTS_MAX,
		     "x.ini: [hosts] h64: more than 64 hosts");
}

static void test_bad_acl(void **state)
{
	static const char *const bad[] = {
	    "allow",
	    "allow 10.0.0.0",
	    "permit 10.0.0.0/8",
	    "Allow 10.0.0.0/8",
	    "allow 10.0.0.0/33",
	    "allow 10.0.0.0/-1",
	    "allow 10.0.0/8",
	    "allow 10.0.0.0/8 80 90",
	    "allow 10.0.0.0/8 90-80",
	    "allow 10.0.0.0/8 65536",
	    "allow 10.0.0.0/8 0-65536",
	    "allow 10.0.0.0/8 -5",
	    "allow 10.0.0.0/8 5-",
	    "allow 10.0.0.0/8 5--6",
	    "allow 10.0.0.0/8 +5",
	    "allow 10.0.0.0/8 http",
	    "allow 10.0.0.0/8x",
	};
	char text[2048], msg[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), REQUIRED "[acl]\nr = %s\n",
			 bad[i]);
		snprintf(msg, sizeof(msg),
			 "x.ini: [acl] r: '%s' is not 'allow|deny PREFIX/LEN "
			 "[PORT|LO-HI]' (e.g. allow 198.18.0.0/15, deny "
			 "203.0.113.0/24 25)",
			 bad[i]);
		refused(text, msg);
	}
	refused(REQUIRED "[acl]\nr = deny 10.0.0.1/8\n",
		"x.ini: [acl] r: 'deny 10.0.0.1/8' has address bits set past "
		"the prefix length");
	refused(REQUIRED "[acl]\nr = deny 0.0.0.1/0 25\n",
		"x.ini: [acl] r: 'deny 0.0.0.1/0 25' has address bits set "
		"past the prefix length");

	refused_over("acl", "r", "deny 1.0.0.0/8", RS_CONFIG_ACL_MAX,
		     "x.ini: [acl] r64: more than 64 rules");
}

static void test_bad_apps_and_quotas(void **state)
{
	refused(REQUIRED "[apps]\nshort = 0123456789abcde\n",
		"x.ini: [apps] short: the secret is shorter than 16 bytes");
	refused(REQUIRED "[apps]\nblank = 01234567 89abcdef\n",
		"x.ini: [apps] blank: the secret may hold only printable "
		"ASCII without blanks");
	refused(REQUIRED "[apps]\ntab = 01234567\t89abcdef\n",
		"x.ini: [apps] tab: the secret may hold only printable ASCII "
		"without blanks");
	refused(REQUIRED "[apps]\nutf = 0123456789abcdef\xc3\xa9\n",
		"x.ini: [apps] utf: the secret may hold only printable ASCII "
		"without blanks");
	refused(REQUIRED "[apps]\nApp = 0123456789abcdef\n",
		"x.ini:6: [apps] 'App': not a key name");
	refused(REQUIRED "[apps]\na = 0123456789abcdef\n"
			 "a = 0123456789abcdeg\n",
		"x.ini:7: [apps] a: key given twice");

	refused_over("apps", "a", "0123456789abcdef", RS_CONFIG_APPS_MAX,
		     "x.ini: [apps] a64: more than 64 apps");

	refused(REQUIRED "[quotas]\nsockets = 0\n",
		"x.ini: [quotas] sockets: '0' is out of range (1..4194304)");
	refused(REQUIRED "[quotas]\nbuffered_bytes = 4294967296\n",
		"x.ini: [quotas] buffered_bytes: '4294967296' is out of "
		"range (4096..4294967295)");
	refused(REQUIRED "[quotas]\npending_calls = 1048577\n",
		"x.ini: [quotas] pending_calls: '1048577' is out of range "
		"(1..1048576)");
	refused(REQUIRED "[quotas]\ndemo = sockets=0\n",
		"x.ini: [quotas] demo: sockets: '0' is out of range "
		"(1..4194304)");
	refused(REQUIRED "[quotas]\ndemo = pending_calls=x\n",
		"x.ini: [quotas] demo: pending_calls: 'x' is not a number");
	refused(REQUIRED "[quotas]\ndemo = sockets=\n",
		"x.ini: [quotas] demo: sockets: '' is not a number");
	refused(REQUIRED "[quotas]\ndemo = socket=5\n",
		"x.ini: [quotas] demo: 'socket=5' is not a list of "
		"QUOTA=N " QUOTA_NAMES);
	refused(
	    REQUIRED "[quotas]\ndemo = ,\n",
	    "x.ini: [quotas] demo: ',' is not a list of QUOTA=N " QUOTA_NAMES);
	refused(REQUIRED "[quotas]\ndemo = sockets=1 =2\n",
		"x.ini: [quotas] demo: 'sockets=1 =2' is not a list of "
		"QUOTA=N " QUOTA_NAMES);
	refused(REQUIRED "[quotas]\ndemo = sockets 5\n",
		"x.ini: [quotas] demo: 'sockets 5' is not a list of "
		"QUOTA=N " QUOTA_NAMES);
	/* A misspelt key is taken for an app, which does not exist. */
	refused(REQUIRED "[quotas]\nsocket = 5\n",
		"x.ini: [quotas] socket: '5' is not a list of "
		"QUOTA=N " QUOTA_NAMES);
	refused(REQUIRED "[quotas]\nsocket = sockets=5\n",
		"x.ini: [quotas] socket: no app 'socket' in [apps]");

	refused(REQUIRED "[service]\nauth_timeout_ms = 99\n",
		"x.ini: [service] auth_timeout_ms: '99' is out of range "
		"(100..600000)");
	refused(REQUIRED "[service]\nidle_timeout_s = 604801\n",
		"x.ini: [service] idle_timeout_s: '604801' is out of range "
		"(0..604800)");
	refused(REQUIRED "[service]\nidle = 5\n",
		"x.ini: [service] idle: unknown key (known: idle_timeout_s, "
		"auth_timeout_ms, close_wait_ms, session_grace_s, operator)");
	refused(REQUIRED "[service]\noperator = nobody\n",
		"x.ini: [service] operator: no app 'nobody' in [apps]");
	refused(REQUIRED "[service]\nclose_wait_ms = 600001\n",
		"x.ini: [service] close_wait_ms: '600001' is out of range "
		"(0..600000)");
}

static void test_bad_syntax(void **state)
{
	refused("ip = 1.2.3.4\n", "x.ini:1: ip: key before any [section]");
	refused(REQUIRED "garbage here\n",
		"x.ini:5: 'garbage here': expected 'key = value' or "
		"'[section]'");
	refused("[net\n", "x.ini:1: '[net': a section line is '[name]'");
	refused("[net] x\n", "x.ini:1: '[net] x': a section line is '[name]'");
	refused("[Net]\n", "x.ini:1: [Net]: not a section name");
	refused("[net]\nip addr = 1.2.3.4\n",
		"x.ini:2: [net] 'ip addr': not a key name");
	refused(REQUIRED "[net]\n", "x.ini:5: [net]: section given twice");
	refused(REQUIRED "ip = 10.1.2.4\n",
		"x.ini:5: [net] ip: key given twice");
	refused("[port]\ndevargs =\n", "x.ini:2: [port] devargs: empty value");
	refused("[port]\ndevargs = ; only a comment\n",
		"x.ini:2: [port] devargs: empty value");
}

static void test_too_long_and_binary(void **state)
{
	char text[600];
	struct rs_config cfg;
	char err[512] = "";

	snprintf(text, sizeof(text), "[port]\ndevargs = %0300d\n", 7);
	refused(text, "x.ini:2: [port] devargs: value longer than 255 bytes");

	assert_int_equal(rs_config_load_buffer(&cfg, "x.ini", "[net]\0ip", 8,
					       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "x.ini: contains a NUL byte: not a text file");
}

static void test_unknown_names(void **state)
{
	refused("[port]\r\ndevargs = x\r\nrx_descs = 1\r\n",
		"x.ini: [port] rx_descs: unknown key (known: devargs, rx_desc, "
		"tx_desc, mbufs, mbuf_cache, mtu, link_timeout_ms, tso, lro)");
	refused(REQUIRED "[foo]\n",
		"x.ini: [foo]: unknown section (known: eal, port, net, "
		"workers, rpc, limits, sockets, arp, tcp, routes, service, "
		"acl, apps, quotas, dns, hosts)");
	refused(REQUIRED "[tcp]\nmaxconns = 5\n",
		"x.ini: [tcp] maxconns: unknown key (known: max_conns, "
		"backlog, mss, rto_min_ms, rto_max_ms, syn_retries, retries, "
		"time_wait_ms, tw_reuse_ms, delack_ms, keepidle_s, "
		"keepintvl_s, keepcnt, close_grace_ms, rmem_max, wmem_max, "
		"tune_mem_mb, timestamps, sack, "
		"syncookies, hystart, tlp, rack, pacing, congestion)");
	refused(REQUIRED "ipaddr = 1.2.3.4\n",
		"x.ini: [net] ipaddr: unknown key (known: ip, prefix, "
		"gateway, mac)");
}

static void test_missing_required(void **state)
{
	refused("[port]\ndevargs = net_ring0\n",
		"x.ini: [net] ip: missing (required)");
	refused("[net]\nip = 10.1.2.3\n",
		"x.ini: [port] devargs: missing (required)");
	refused("", "x.ini: [port] devargs: missing (required)");
}

static void test_bad_values(void **state)
{
	refused("[port]\ndevargs = net_ring0\n[net]\nip = 198.18.0.999\n",
		"x.ini: [net] ip: '198.18.0.999' is not an IPv4 address");
	refused(REQUIRED "gateway = 1.2.3\n",
		"x.ini: [net] gateway: '1.2.3' is not an IPv4 address");
	refused(REQUIRED "prefix = 33\n",
		"x.ini: [net] prefix: '33' is out of range (1..32)");
	refused(REQUIRED "prefix = -1\n",
		"x.ini: [net] prefix: '-1' is not a number");
	refused(REQUIRED "prefix = 24x\n",
		"x.ini: [net] prefix: '24x' is not a number");
	refused(REQUIRED "prefix = 99999999999999999999999\n",
		"x.ini: [net] prefix: '99999999999999999999999' is out of "
		"range (1..32)");
	refused(REQUIRED "mac = 02:00:00:00:00\n",
		"x.ini: [net] mac: '02:00:00:00:00' is not a MAC address "
		"(xx:xx:xx:xx:xx:xx)");
	refused(REQUIRED "mac = 01:00:5e:00:00:01\n",
		"x.ini: [net] mac: '01:00:5e:00:00:01' is not a unicast MAC "
		"address");
	refused(REQUIRED "[workers]\nidle_backoff = maybe\n",
		"x.ini: [workers] idle_backoff: 'maybe' is not on/off (on, "
		"off, yes, no, true, false, 1, 0)");
	refused(REQUIRED "[workers]\ncount = 0\n",
		"x.ini: [workers] count: '0' is out of range (1..127)");
	refused(REQUIRED "[limits]\nmsg_ring_size = 1000\n",
		"x.ini: [limits] msg_ring_size: '1000' is not a power of two");
	refused("[port]\ndevargs = x\nmtu = 10000\n[net]\nip = 10.1.2.3\n",
		"x.ini: [port] mtu: '10000' is out of range (68..9600)");
}

static void test_bad_relations(void **state)
{
	refused(REQUIRED "gateway = 10.2.0.1\n",
		"x.ini: [net] gateway: '10.2.0.1' is not inside 10.1.2.3/24");
	refused(REQUIRED "gateway = 10.1.2.3\n",
		"x.ini: [net] gateway: '10.1.2.3' is not a usable unicast "
		"address other than [net] ip");
	refused("[port]\ndevargs = x\n[net]\nip = 10.1.2.0\n",
		"x.ini: [net] ip: '10.1.2.0' is the network or broadcast "
		"address of its /24 subnet");
	refused("[port]\ndevargs = x\n[net]\nip = 10.1.2.255\n",
		"x.ini: [net] ip: '10.1.2.255' is the network or broadcast "
		"address of its /24 subnet");
	refused("[port]\ndevargs = x\n[net]\nip = 224.0.0.1\n",
		"x.ini: [net] ip: '224.0.0.1' is not a usable unicast "
		"address");
	refused("[port]\ndevargs = x\n[net]\nip = 127.0.0.2\n",
		"x.ini: [net] ip: '127.0.0.2' is not a usable unicast "
		"address");
	refused("[port]\ndevargs = x\nmbufs = 1000\n[net]\nip = 10.1.2.3\n",
		"x.ini: [port] mbufs: '1000' is too few for 1 worker(s) with "
		"512 RX + 512 TX descriptors (need at least 1344)");
	refused("[port]\ndevargs = x\nmbufs = 600\nmbuf_cache = 500\n"
		"[net]\nip = 10.1.2.3\n",
		"x.ini: [port] mbuf_cache: '500' is too large for 600 mbufs "
		"(at most 2/3 of [port] mbufs)");
	refused("[port]\ndevargs = x\nrx_desc = 64\n[workers]\nburst = 65\n"
		"[net]\nip = 10.1.2.3\n",
		"x.ini: [workers] burst: '65' is larger than [port] rx_desc "
		"(64)");
}

static void test_too_many_eal_args(void **state)
{
	char text[400] = "[eal]\nargs =";

	for (int i = 0; i < RS_CONFIG_EAL_ARGS_MAX + 1; i++)
		strcat(text, " a");
	strcat(text, "\n" REQUIRED);
	refused(text, "x.ini: [eal] args: more than 64 arguments");
}

/* [rpc] http_port: 0 is off, a port of its own, never listen_port's.
 * The same for tls_port and https_port, which need a certificate and its
 * key; listen_port 0 is off too, but one port at least is on. */
static void test_http_port(void **state)
{
	struct rs_config cfg;
	char err[512];

	refused(REQUIRED "[rpc]\nhttp_port = 5757\n",
		"x.ini: [rpc] http_port: 5757 is listen_port already");
	refused(REQUIRED "[rpc]\nhttp_port = 65536\n",
		"x.ini: [rpc] http_port: '65536' is out of range (0..65535)");
	refused(REQUIRED "[rpc]\ntls_port = 8080\nhttp_port = 8080\n"
			 "tls_cert = c\ntls_key = k\n",
		"x.ini: [rpc] tls_port: 8080 is http_port already");
	refused(REQUIRED "[rpc]\ntls_port = 5758\n",
		"x.ini: [rpc] tls_port or https_port, and tls_cert and "
		"tls_key, go together (a TLS port needs a certificate and its "
		"key, and they need a port)");
	refused(REQUIRED "[rpc]\ntls_cert = c\ntls_key = k\n",
		"x.ini: [rpc] tls_port or https_port, and tls_cert and "
		"tls_key, go together (a TLS port needs a certificate and its "
		"key, and they need a port)");
	refused(REQUIRED "[rpc]\nlisten_port = 0\n",
		"x.ini: [rpc]: listen_port, http_port, tls_port and https_port "
		"are all 0: no client could reach the service");
	refused(REQUIRED "[rpc]\ntls_client_ca = ca.crt\n",
		"x.ini: [rpc] tls_client_ca needs tls_port or https_port "
		"(client certificates are asked in TLS handshakes only)");
	refused(REQUIRED "[rpc]\ntls_port = 5758\ntls_cert = c\ntls_key = k\n"
			 "tls_client_crl = x.crl\n",
		"x.ini: [rpc] tls_client_crl needs tls_client_ca (the "
		"certificates it revokes are client certificates)");
	assert_int_equal(load(&cfg,
			      REQUIRED
			      "[rpc]\nlisten_port = 0\nhttps_port = 8443\n"
			      "tls_cert = c\ntls_key = k\n",
			      err, sizeof(err)),
			 0);
	assert_int_equal(cfg.rpc.listen_port, 0);
	assert_int_equal(cfg.rpc.https_port, 8443);
}

static void test_files(void **state)
{
	char path[] = "/tmp/rs_test_config_XXXXXX";
	char msg[600], err[512] = "";
	struct rs_config cfg;
	int fd = mkstemp(path);
	static const char bad[] = REQUIRED "[rpc]\nlisten_port = 70000\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, REQUIRED, strlen(REQUIRED)),
			 strlen(REQUIRED));
	assert_int_equal(rs_config_load_file(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.source, path);
	assert_int_equal(cfg.net.ip, ip("10.1.2.3"));

	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, bad, strlen(bad), 0), strlen(bad));
	assert_int_equal(rs_config_load_file(&cfg, path, err, sizeof(err)),
			 -EINVAL);
	snprintf(msg, sizeof(msg),
		 "%s: [rpc] listen_port: '70000' is out of range (0..65535)",
		 path);
	assert_string_equal(err, msg);
	close(fd);
	unlink(path);

	assert_int_equal(rs_config_load_file(&cfg, path, err, sizeof(err)),
			 -ENOENT);
	snprintf(msg, sizeof(msg), "%s: cannot read: %s", path,
		 strerror(ENOENT));
	assert_string_equal(err, msg);
	assert_int_equal(rs_config_load_file(&cfg, "/tmp", err, sizeof(err)),
			 -EISDIR);
}

/* Files are read in growing chunks, up to 1 MiB. */
static void test_file_sizes(void **state)
{
	char path[] = "/tmp/rs_test_config_XXXXXX";
	char msg[600], err[512] = "";
	struct rs_config cfg;
	char comment[100];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	memset(comment, ' ', sizeof(comment));
	comment[0] = ';';
	comment[sizeof(comment) - 1] = '\n';
	for (int i = 0; i < 100; i++) /* 10 kB, over the first chunk */
		assert_int_equal(write(fd, comment, sizeof(comment)),
				 sizeof(comment));
	assert_int_equal(write(fd, REQUIRED, strlen(REQUIRED)),
			 strlen(REQUIRED));
	assert_int_equal(rs_config_load_file(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.net.ip, ip("10.1.2.3"));

	for (int i = 0; i < 10500; i++) /* now over 1 MiB */
		assert_int_equal(write(fd, comment, sizeof(comment)),
				 sizeof(comment));
	assert_int_equal(rs_config_load_file(&cfg, path, err, sizeof(err)),
			 -EFBIG);
	snprintf(msg, sizeof(msg), "%s: cannot read: larger than 1 MiB", path);
	assert_string_equal(err, msg);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_embedded_default),
	    cmocka_unit_test(test_minimal_takes_defaults),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_http_port),
	    cmocka_unit_test(test_socket_keys),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_service_keys),
	    cmocka_unit_test(test_list_layers),
	    cmocka_unit_test(test_dns_and_hosts),
	    cmocka_unit_test(test_bad_acl),
	    cmocka_unit_test(test_bad_apps_and_quotas),
	    cmocka_unit_test(test_bad_syntax),
	    cmocka_unit_test(test_too_long_and_binary),
	    cmocka_unit_test(test_unknown_names),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_bad_relations),
	    cmocka_unit_test(test_too_many_eal_args),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_file_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
