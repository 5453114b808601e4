/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port: any PMD, named by [port] devargs.
 *
 *   rs_port_probe()      rte_dev_probe() the devargs, find the ethdev port
 *   rs_port_configure()  offloads, RSS, MTU, MAC, descriptors, packet
 *                        pool, one RX/TX queue pair per worker
 *   rs_port_start()      start, then wait for link up (bounded)
 *   rs_port_close()      stop and close whatever the steps above did
 *
 * Checksum offloads are taken when the port offers them and recorded in
 * struct rs_iface; the stack falls back to software for the rest.  TSO
 * and LRO likewise, unless [port] tso / lro say off: TSO with TCP
 * checksums and multi-segment mbufs (the TCP glue chains a segment of up
 * to 64 KiB), LRO with TCP checksums (and scatter when offered).  A
 * port given with --vdev or found by the EAL's PCI scan is already probed
 * when we ask: rte_dev_probe() says -EEXIST and we use it as it is.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_pvt.h"

#define RX_CSUM                                                                \
	(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |        \
	 RTE_ETH_RX_OFFLOAD_TCP_CKSUM)
#define TX_CSUM                                                                \
	(RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |        \
	 RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
/* TSO: the port cuts a chain of mbufs, checksumming each piece. */
#define TX_TSO                                                                 \
	(RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |           \
	 RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
/* LRO: merged segments arrive as chains, their checksums verified. */
#define RX_LRO (RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)

/* How often the link is looked at while waiting for it. */
#define LINK_POLL_MS 50

/* What usually went wrong when a device of this kind does not probe. */
static const char *probe_hint(const char *devargs)
{
	if (strncmp(devargs, "net_tap", 7) == 0)
		return geteuid() != 0
			   ? "net_tap needs root (CAP_NET_ADMIN) and "
			     "/dev/net/tun"
			   : "is the iface= name too long (15 bytes at "
			     "most) or used by another process?";
	if (strncmp(devargs, "virtio_user", 11) == 0)
		return "is the vhost-user backend listening on path=, and "
		       "is --single-file-segments in [eal] args?";
	if (strncmp(devargs, "net_", 4) == 0)
		return "check the driver name and its options";
	return "a PCI NIC must be bound to vfio-pci (dpdk-devbind.py) and "
	       "allowed with -a in [eal] args";
}

/* The ethdev port a devargs string created. */
static int port_find(const char *devargs, uint16_t *port)
{
	struct rte_dev_iterator it;
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t id;

	RTE_ETH_FOREACH_MATCHING_DEV(id, devargs, &it)
	{
		*port = id;
		rte_eth_iterator_cleanup(&it);
		return 0;
	}
	/* Some buses do not match on options: try the bare device name. */
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(devargs, ","),
		 devargs);
	return rte_eth_dev_get_port_by_name(name, port) == 0 ? 0 : -ENODEV;
}

int rs_port_probe(struct rs_dp *dp)
{
	const char *devargs = dp->cfg.port.devargs;
	int rc;

	rc = rte_dev_probe(devargs);
	if (rc < 0 && rc != -EEXIST) {
		rs_dp_err("port: cannot probe '%s' ([port] devargs in %s): "
			  "%s; %s",
			  devargs, dp->cfg.source, strerror(-rc),
			  probe_hint(devargs));
		return rc;
	}
	rc = port_find(devargs, &dp->port_id);
	dp->port_probed = rc == 0;
	if (rc == 0)
		rte_eth_dev_get_name_by_port(dp->port_id, dp->port_name);
	else
		rs_dp_err("port: '%s' probed, but no ethdev port matches it "
			  "([port] devargs in %s)",
			  devargs, dp->cfg.source);
	return rc;
}

/* TSO a driver offers but that does not work for us.  net_tap (DPDK
 * 22.11) refuses a TSO packet whose pieces, Ethernet header included,
 * exceed the MTU: with a full MSS every piece does, so it never sends. */
static bool tso_usable(const struct rte_eth_dev_info *info)
{
	return strcmp(info->driver_name, "net_tap") != 0;
}

/* Queues, RSS and offloads: the part of the configuration the PMD must
 * be able to do, checked here so that the message can say which key. */
static int conf_build(struct rs_dp *dp, const struct rte_eth_dev_info *info,
		      struct rte_eth_conf *conf)
{
	unsigned n = dp->nworkers;

	if (n > info->max_rx_queues || n > info->max_tx_queues) {
		rs_dp_err("[workers] count: %u workers need %u queue pairs; "
			  "port %s has %u RX and %u TX queues",
			  n, n, dp->cfg.port.devargs, info->max_rx_queues,
			  info->max_tx_queues);
		return -EINVAL;
	}
	if (dp->cfg.port.mtu < info->min_mtu ||
	    dp->cfg.port.mtu > info->max_mtu) {
		rs_dp_err("[port] mtu: %u is outside what the port allows "
			  "(%u..%u)",
			  dp->cfg.port.mtu, info->min_mtu, info->max_mtu);
		return -EINVAL;
	}
	memset(conf, 0, sizeof(*conf));
	dp->rx_offloads_offered =
	    info->rx_offload_capa &
	    (RX_CSUM | RX_LRO | RTE_ETH_RX_OFFLOAD_SCATTER);
	dp->tx_offloads_offered = info->tx_offload_capa & (TX_CSUM | TX_TSO);
	conf->rxmode.offloads = dp->rx_offloads_offered & RX_CSUM;
	conf->txmode.offloads = dp->tx_offloads_offered & TX_CSUM;
	if (dp->cfg.port.tso && (dp->tx_offloads_offered & TX_TSO) == TX_TSO &&
	    tso_usable(info))
		conf->txmode.offloads |= TX_TSO;
	if (dp->cfg.port.lro && (dp->rx_offloads_offered & RX_LRO) == RX_LRO)
		conf->rxmode.offloads |= RX_LRO | (dp->rx_offloads_offered &
						   RTE_ETH_RX_OFFLOAD_SCATTER);
	conf->rxmode.mtu = dp->cfg.port.mtu;
	/* Several workers: RSS with steering's symmetric key where the port
	 * has RSS and takes a key of that size, so that most packets reach
	 * their owner at once; any other port spreads packets its own way
	 * and steering hands each to its owner (steer.c). */
	if (n == 1 || (info->flow_type_rss_offloads & RTE_ETH_RSS_IP) == 0)
		return 0;
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_hf =
	    info->flow_type_rss_offloads &
	    (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	if (info->hash_key_size == RS_STEER_KEY_LEN) {
		conf->rx_adv_conf.rss_conf.rss_key =
		    (uint8_t *)(uintptr_t)rs_steer_rss_key;
		conf->rx_adv_conf.rss_conf.rss_key_len = RS_STEER_KEY_LEN;
	}
	return 0;
}

static int pool_create(struct rs_dp *dp)
{
	const struct rs_config_port *p = &dp->cfg.port;
	uint32_t frame =
	    p->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN;
	char name[RTE_MEMPOOL_NAMESIZE];

	snprintf(name, sizeof(name), "rs_pkt_%u", dp->port_id);
	dp->pool = rte_pktmbuf_pool_create(
	    name, p->mbufs, p->mbuf_cache, 0,
	    RTE_PKTMBUF_HEADROOM +
		RTE_MAX(frame, (uint32_t)RTE_MBUF_DEFAULT_DATAROOM),
	    rte_eth_dev_socket_id(dp->port_id));
	if (dp->pool != NULL)
		return 0;
	rs_dp_err("port: cannot create a pool of %u mbufs ([port] mbufs): %s; "
		  "free hugepages are too few, or -m in [eal] args too small",
		  p->mbufs, rte_strerror(rte_errno));
	return -rte_errno;
}

static int queues_setup(struct rs_dp *dp, const struct rte_eth_dev_info *info,
			const struct rte_eth_conf *conf)
{
	struct rte_eth_txconf txconf = info->default_txconf;
	unsigned socket;
	int rc = 0;

	txconf.offloads = conf->txmode.offloads;
	for (uint16_t q = 0; q < dp->nworkers && rc == 0; q++) {
		socket = rte_lcore_to_socket_id(dp->lc[q]->lcore_id);
		rc = rte_eth_rx_queue_setup(dp->port_id, q, dp->rx_desc, socket,
					    NULL, dp->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(dp->port_id, q, dp->tx_desc,
						    socket, &txconf);
		if (rc < 0)
			rs_dp_err("port: queue pair %u setup failed: %s", q,
				  strerror(-rc));
	}
	return rc;
}

/* MTU and MAC: applied after rte_eth_dev_configure(), as ethdev wants. */
static int addresses_set(struct rs_dp *dp)
{
	struct rte_ether_addr mac;
	int rc;

	rc = rte_eth_dev_set_mtu(dp->port_id, dp->cfg.port.mtu);
	if (rc < 0 && !(rc == -ENOTSUP && dp->cfg.port.mtu == 1500)) {
		rs_dp_err("[port] mtu: the port refuses %u: %s",
			  dp->cfg.port.mtu, strerror(-rc));
		return rc;
	}
	if (rte_is_valid_assigned_ether_addr(
		(const struct rte_ether_addr *)dp->cfg.net.mac)) {
		memcpy(mac.addr_bytes, dp->cfg.net.mac, RTE_ETHER_ADDR_LEN);
		rc = rte_eth_dev_default_mac_addr_set(dp->port_id, &mac);
		if (rc < 0) {
			rs_dp_err("[net] mac: the port refuses it: %s",
				  strerror(-rc));
			return rc;
		}
	}
	return rte_eth_macaddr_get(dp->port_id, &dp->ifc.mac);
}

static void iface_fill(struct rs_dp *dp, const struct rte_eth_conf *conf)
{
	const struct rs_config_net *n = &dp->cfg.net;

	dp->ifc.port_id = dp->port_id;
	dp->ifc.ip = n->ip;
	dp->ifc.netmask =
	    rte_cpu_to_be_32(n->prefix == 32 ? ~0u : ~(~0u >> n->prefix));
	dp->ifc.gateway = n->gateway;
	dp->ifc.mtu = dp->cfg.port.mtu;
	dp->ifc.rx_offloads = conf->rxmode.offloads;
	dp->ifc.tx_offloads = conf->txmode.offloads;
}

int rs_port_configure(struct rs_dp *dp)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	rc = rte_eth_dev_info_get(dp->port_id, &info);
	if (rc == 0)
		rc = conf_build(dp, &info, &conf);
	if (rc < 0)
		return rc;
	snprintf(dp->driver, sizeof(dp->driver), "%s", info.driver_name);
	rc = rte_eth_dev_configure(dp->port_id, dp->nworkers, dp->nworkers,
				   &conf);
	if (rc < 0) {
		rs_dp_err("port: configure failed: %s", strerror(-rc));
		return rc;
	}
	dp->rx_desc = dp->cfg.port.rx_desc;
	dp->tx_desc = dp->cfg.port.tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(dp->port_id, &dp->rx_desc,
					      &dp->tx_desc);
	if (rc == 0)
		rc = addresses_set(dp);
	if (rc == 0)
		rc = pool_create(dp);
	if (rc == 0)
		rc = queues_setup(dp, &info, &conf);
	if (rc == 0)
		iface_fill(dp, &conf);
	return rc;
}

static int link_wait(struct rs_dp *dp)
{
	uint32_t timeout = dp->cfg.port.link_timeout_ms;
	struct rte_eth_link link;

	for (uint32_t waited = 0;; waited += LINK_POLL_MS) {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(dp->port_id, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			return 0;
		if (waited >= timeout)
			break;
		rte_delay_us_sleep(LINK_POLL_MS * 1000);
	}
	rs_dp_err("port %s: link still down after %u ms ([port] "
		  "link_timeout_ms); check the cable or the peer",
		  dp->cfg.port.devargs, timeout);
	return -ETIMEDOUT;
}

int rs_port_start(struct rs_dp *dp)
{
	int rc = rte_eth_dev_start(dp->port_id);

	if (rc < 0) {
		rs_dp_err("port %s: start failed: %s", dp->cfg.port.devargs,
			  strerror(-rc));
		return rc;
	}
	dp->port_started = true;
	return link_wait(dp);
}

void rs_port_close(struct rs_dp *dp)
{
	if (dp->port_started)
		rte_eth_dev_stop(dp->port_id);
	dp->port_started = false;
	if (dp->port_probed)
		rte_eth_dev_close(dp->port_id);
	dp->port_probed = false;
}
