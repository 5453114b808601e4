/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * remsockd configuration: an INI file read into a validated struct.
 *
 * The text is split into sections and `key = value` entries by a small
 * line reader that knows line numbers, and stored in DPDK's rte_cfgfile.
 * A table of known keys then parses every entry into struct rs_config.
 * Anything the table does not know is an error, and so is a value of the
 * wrong kind or out of range: a typo must not silently become a default.
 * Keys that a file leaves out take the defaults documented in
 * configs/default.ini, except the required ones ([port] devargs, [net] ip).
 * Sections of named entries ([routes], [acl], [apps] and the per-app
 * entries of [quotas]) are lists: a file that gives such a section replaces
 * the default's entries of it, so that e.g. a production file's [apps] does
 * not keep the demo app.
 *
 * Every refusal is one line that names the file, the section, the key and
 * the reason, e.g.
 * `x.ini: [net] ip: '198.18.0.999' is not an IPv4 address`.
 *
 * The default configuration (configs/default.ini) is compiled into the
 * binary, so remsockd runs without any file.
 *
 * Nothing here needs the EAL: the unit tests and --check-config run it
 * anywhere.
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest value, in bytes, terminator included (rte_cfgfile's limit). */
#define RS_CONFIG_VALUE_MAX 256

/** Room for the name of the file a configuration came from. */
#define RS_CONFIG_SOURCE_MAX 512

/**
 * Most worker lcores: the bound [workers] count is validated against
 * (the main lcore, the control thread, takes one of DPDK's 128), and the
 * length of every array indexed by worker (the data plane's lcores, the
 * service's rings to the workers).
 */
#define RS_CONFIG_WORKERS_MAX 127

/** Most EAL arguments that [eal] args may hold. */
#define RS_CONFIG_EAL_ARGS_MAX 64

/** Most [routes] entries. */
#define RS_CONFIG_ROUTES_MAX 32

/** Room for a [routes] entry's name, terminator included. */
#define RS_CONFIG_NAME_MAX 64

/** Most [acl] rules. */
#define RS_CONFIG_ACL_MAX 64
/** Most networks in [rpc] clients. */
#define RS_CONFIG_CLIENTS_MAX 16

/** Most [apps] entries, and so most per-app [quotas] entries. */
#define RS_CONFIG_APPS_MAX 64

/** Most DNS servers ([dns] servers). */
#define RS_CONFIG_DNS_MAX 4

/** Most [hosts] entries, and addresses per entry. */
#define RS_CONFIG_HOSTS_MAX 64
#define RS_CONFIG_HOST_ADDRS 4

/** Longest host name (RFC 1035: 253 characters written out). */
#define RS_CONFIG_HOSTNAME_MAX 254

/** Shortest app secret, in bytes. */
#define RS_CONFIG_SECRET_MIN 16

/** Name that messages give the embedded default. */
#define RS_CONFIG_DEFAULT_NAME "<embedded default.ini>"

/** A configuration after validation.  Addresses are in network order. */
struct rs_config {
	/** File the configuration came from, for messages. */
	char source[RS_CONFIG_SOURCE_MAX];
	/** The given text has an [apps] section of its own (not the
	 *  embedded default's demo app). */
	bool apps_given;

	struct rs_config_eal {
		/** EAL arguments, separated by blanks (no quoting). */
		char args[RS_CONFIG_VALUE_MAX];
	} eal;

	struct rs_config_port {
		/** Device arguments of the port, as for rte_dev_probe(). */
		char devargs[RS_CONFIG_VALUE_MAX];
		uint32_t rx_desc;	  /**< RX descriptors per queue */
		uint32_t tx_desc;	  /**< TX descriptors per queue */
		uint32_t mbufs;		  /**< mbufs in the packet pool */
		uint32_t mbuf_cache;	  /**< per-lcore mempool cache */
		uint32_t mtu;		  /**< IP MTU of the port */
		uint32_t link_timeout_ms; /**< how long to wait for link up */
		bool tso; /**< TCP segmentation offload, if offered */
		bool lro; /**< large receive offload, if offered */
	} port;

	struct rs_config_net {
		uint32_t ip;	  /**< the proxy's address */
		uint32_t prefix;  /**< prefix length of the attached subnet */
		uint32_t gateway; /**< next hop off the subnet; 0: none */
		/** Port MAC to set; all zero: keep the port's own. */
		uint8_t mac[6];
	} net;

	struct rs_config_workers {
		uint32_t count;	     /**< worker lcores, one queue pair each */
		uint32_t burst;	     /**< RX burst size */
		bool idle_backoff;   /**< sleep when idle */
		uint32_t idle_polls; /**< empty polls before sleeping */
		uint32_t idle_sleep_max_us; /**< longest single sleep */
	} workers;

	struct rs_config_rpc {
		uint32_t listen_port; /**< TCP port of the RPC service */
		uint32_t http_port;   /**< App Engine API-host HTTP; 0: off */
		/** The native transport over TLS 1.3; 0: off. */
		uint32_t tls_port;
		/** The API-host HTTP over TLS 1.3 (HTTPS); 0: off. */
		uint32_t https_port;
		/** PEM certificate chain and private key for both. */
		char tls_cert[RS_CONFIG_VALUE_MAX];
		char tls_key[RS_CONFIG_VALUE_MAX];
		/** PEM CAs: TLS clients must show a certificate one of them
		 *  signed, whose CN is the app they authenticate as; "": no
		 *  client certificate asked. */
		char tls_client_ca[RS_CONFIG_VALUE_MAX];
		/** PEM CRLs of those CAs: revoked client certificates are
		 *  refused in the handshake; "": none checked. */
		char tls_client_crl[RS_CONFIG_VALUE_MAX];
		uint32_t http_idle_s; /**< idle HTTP conns closed; 0: never */
		/** An HTTP request must arrive whole within this; 0: never. */
		uint32_t http_request_s;
		/** RPC and HTTP connections a worker takes; 0: half of
		 *  [tcp] max_conns (the rest is the tenants'). */
		uint32_t max_conns;
		/** Largest request (a native frame, an HTTP body), MiB, on
		 *  an authenticated connection; what one holds above 4 MiB
		 *  while it arrives is its app's buffered_bytes. */
		uint32_t max_request_mb;
		/** Connections not authenticated yet, from one address. */
		uint32_t unauth_per_source;
		/** ... and from all addresses, a worker; 0: half of its
		 *  max_conns. */
		uint32_t unauth_max;
		/** Failed attempts at one app's secret from one address a
		 *  minute, after a burst of auth_fail_burst; past it they
		 *  are refused unchecked.  0: no limit. */
		uint32_t auth_fail_per_min;
		uint32_t auth_fail_burst;
		/** Networks whose hosts may connect to the RPC and HTTP
		 *  ports (network order); the others are refused. */
		struct rs_config_prefix {
			uint32_t prefix;
			uint32_t len;
		} clients[RS_CONFIG_CLIENTS_MAX];
		uint32_t nclients;
	} rpc;

	struct rs_config_sockets {
		uint32_t max;		/**< sockets per worker */
		uint32_t udp_rx_ring;	/**< bytes of a UDP socket's ring */
		uint32_t ephemeral_min; /**< ephemeral port range (RFC 6056) */
		uint32_t ephemeral_max;
		uint32_t icmp_unreach_rate; /**< port unreachables per s */
	} sockets;

	struct rs_config_arp {
		uint32_t pending; /**< next hops resolved at once, per worker */
		uint32_t queue;	  /**< packets held per next hop meanwhile */
		uint32_t retries; /**< requests before giving up */
		uint32_t retry_ms; /**< between requests */
		uint32_t ttl_s;	   /**< entry lifetime after confirmation */
	} arp;

	struct rs_config_tcp {
		uint32_t max_conns;  /**< connections per worker */
		uint32_t backlog;    /**< default listen backlog */
		uint32_t mss;	     /**< MSS we announce; 0: from the MTU */
		uint32_t rto_min_ms; /**< retransmission timeout bounds */
		uint32_t rto_max_ms;
		uint32_t syn_retries;  /**< SYN retransmissions */
		uint32_t retries;      /**< data retransmissions */
		uint32_t time_wait_ms; /**< 2 MSL */
		uint32_t tw_reuse_ms;  /**< TIME-WAIT age an active open may
					    take over (timestamps); 0: never */
		uint32_t delack_ms;    /**< delayed ACK */
		uint32_t keepidle_s;   /**< keepalive defaults */
		uint32_t keepintvl_s;
		uint32_t keepcnt;
		uint32_t close_grace_ms; /**< at stop: time for closes */
		uint32_t rmem_max;	 /**< auto-tuned receive ring bound */
		uint32_t wmem_max;	 /**< auto-tuned send ring bound */
		uint32_t tune_mem_mb;	 /**< what tuning may add, per worker */
		bool timestamps;	 /**< RFC 7323 timestamps offered */
		bool sack;		 /**< RFC 2018 SACK offered */
		bool syncookies;	 /**< SYN cookies past the SYN queue */
		bool hystart;		 /**< HyStart++ (RFC 9406) */
		bool tlp;		 /**< Tail Loss Probe (RFC 8985 §7) */
		bool rack;		 /**< RACK loss detection (§6) */
		bool pacing;		 /**< pacing new data */
		enum rs_config_cc {
			RS_CONFIG_CC_NEWRENO, /**< RFC 5681 / 6582 */
			RS_CONFIG_CC_CUBIC,   /**< RFC 9438 */
		} congestion;		      /**< congestion control */
	} tcp;

	/** Static routes of [routes]: `NAME = PREFIX/LEN via GATEWAY`. */
	struct rs_config_route {
		char name[RS_CONFIG_NAME_MAX]; /**< the key, for messages */
		uint32_t prefix;	       /**< network order */
		uint32_t len;		       /**< prefix length 0..32 */
		uint32_t via;		       /**< gateway, on the subnet */
	} routes[RS_CONFIG_ROUTES_MAX];
	uint32_t nroutes; /**< entries used in routes[] */

	struct rs_config_limits {
		uint32_t msg_ring_size; /**< control <-> worker message rings */
		uint32_t
		    sock_rx_ring; /**< bytes of a stream socket's RX ring */
		uint32_t
		    sock_tx_ring; /**< bytes of a stream socket's TX ring */
	} limits;

	struct rs_config_service {
		uint32_t idle_timeout_s;  /**< reap idle sockets; 0: never */
		uint32_t auth_timeout_ms; /**< to authenticate a connection */
		uint32_t close_wait_ms; /**< a deferred Close's longest wait */
		/** A session's sockets close this long after its last
		 *  connection; 0: sessions are not kept. */
		uint32_t session_grace_s;
		/** The app whose Stats shows remsockd's own counters; "":
		 *  none (every app sees its own quotas only). */
		char operator[RS_CONFIG_NAME_MAX];
	} service;

	/** Destination rules of [acl], in file order:
	 *  `NAME = allow|deny PREFIX/LEN [PORT | LO-HI]`. */
	struct rs_config_acl_rule {
		char name[RS_CONFIG_NAME_MAX]; /**< the key, for messages */
		bool allow;		       /**< allow, or deny */
		uint32_t prefix;	       /**< network order */
		uint32_t len;		       /**< prefix length 0..32 */
		uint16_t port_lo, port_hi;     /**< 0..65535 when none given */
	} acl[RS_CONFIG_ACL_MAX];
	uint32_t nacl; /**< entries used in acl[] */

	/** Per-app limits; 0 in an override means "the [quotas] value". */
	struct rs_config_quota {
		uint32_t sockets;	 /**< open descriptors */
		uint32_t buffered_bytes; /**< bytes held in socket rings */
		uint32_t pending_calls;	 /**< calls parked at once */
		uint32_t output_bytes;	 /**< replies waiting to be sent */
		uint32_t listeners;	 /**< listening sockets */
		uint32_t parked_bytes;	 /**< request bytes parked calls keep */
		uint32_t control_calls;	 /**< calls at the control thread */
	} quotas;

	/** Apps of [apps]: `APP_ID = SECRET`.  quota is the effective one:
	 *  [quotas] with the app's own [quotas] APP_ID entry over it. */
	struct rs_config_app {
		char id[RS_CONFIG_NAME_MAX];
		char secret[RS_CONFIG_VALUE_MAX];
		struct rs_config_quota quota;
	} apps[RS_CONFIG_APPS_MAX];
	uint32_t napps; /**< entries used in apps[] */

	/** Per-app entries of [quotas], as given (resolved into apps[]). */
	struct rs_config_dns {
		uint32_t servers[RS_CONFIG_DNS_MAX]; /**< network order */
		uint32_t nservers;   /**< 0: Resolve uses [hosts] only */
		uint32_t timeout_ms; /**< per try, per server */
		uint32_t tries;	     /**< tries per server */
	} dns;

	struct rs_config_host {
		char key[RS_CONFIG_NAME_MAX];	     /**< the entry's key */
		char name[RS_CONFIG_HOSTNAME_MAX];   /**< lower case */
		uint32_t addr[RS_CONFIG_HOST_ADDRS]; /**< network order */
		uint32_t naddr;
	} hosts[RS_CONFIG_HOSTS_MAX];
	uint32_t nhosts; /**< entries used in hosts[] */

	struct rs_config_quota_override {
		char app[RS_CONFIG_NAME_MAX];
		struct rs_config_quota quota;
	} quota_overrides[RS_CONFIG_APPS_MAX];
	uint32_t nquota_overrides;
};

/**
 * Read and validate a configuration file.
 *
 * @param cfg     filled on success; unspecified on failure.
 * @param path    the file.
 * @param err     receives a one-line message on failure (may be NULL).
 * @param errlen  bytes of @p err.
 * @return 0; -EINVAL when the configuration is wrong; the negative errno of
 *   open() or read() when the file cannot be read; -EFBIG when the file is
 *   larger than 1 MiB; -ENOMEM.
 */
int rs_config_load_file(struct rs_config *cfg, const char *path, char *err,
			size_t errlen);

/**
 * Validate configuration text held in memory.
 *
 * @param cfg     filled on success; unspecified on failure.
 * @param name    what messages call the text (a file name).
 * @param text    the INI text; need not be NUL-terminated.
 * @param len     bytes of @p text.
 * @param err     receives a one-line message on failure (may be NULL).
 * @param errlen  bytes of @p err.
 * @return 0, -EINVAL when the configuration is wrong, or -ENOMEM.
 */
int rs_config_load_buffer(struct rs_config *cfg, const char *name,
			  const char *text, size_t len, char *err,
			  size_t errlen);

/**
 * Validate the embedded default configuration (configs/default.ini).
 *
 * @return as rs_config_load_buffer().
 */
int rs_config_load_default(struct rs_config *cfg, char *err, size_t errlen);

/**
 * Whether a configuration loaded from a file may serve tenants: it names
 * its own apps ([apps]), and none has a secret published in remsock's
 * own files (the demo's, virtio.ini's) or the example's CHANGE-ME
 * placeholder.  With @p test_secrets (a test machine) the published
 * secrets and the inherited demo app are allowed; the placeholder never.
 *
 * @return 0, or -EINVAL with the reason in @p err.
 */
int rs_config_check_secrets(const struct rs_config *cfg, bool test_secrets,
			    char *err, size_t errlen);

/**
 * The embedded default configuration's text.
 *
 * @param len  receives its length in bytes (may be NULL).
 * @return the NUL-terminated text; it lives as long as the program.
 */
const char *rs_config_default_text(size_t *len);

/**
 * Split [eal] args into words.
 *
 * @param cfg    a validated configuration.
 * @param buf    receives a copy of the words; the pointers point into it.
 * @param argv   receives up to @p max pointers.
 * @param max    room in @p argv.
 * @return the number of words, or -E2BIG when there are more than @p max.
 */
int rs_config_eal_split(const struct rs_config *cfg,
			char buf[RS_CONFIG_VALUE_MAX], char **argv, int max);

#endif /* RS_CONFIG_H */
