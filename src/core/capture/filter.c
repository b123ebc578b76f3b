/*
 * filter.c — what ntg checks in a capture filter before libpcap compiles it.
 *
 * Names: libpcap resolves a name in a filter (`host example.com`, `net corp`, `port http`,
 * `ether host gw`) through the system resolver — DNS, /etc/networks, /etc/services, /etc/ethers
 * — while it compiles, inside the database server and for any role that may call the import.
 * ntg refuses every name and accepts numbers: IPv4 and IPv6 addresses, MAC addresses, port and
 * protocol numbers.  The tokens are found as libpcap's scanner (scanner.l) finds them: a word that
 * is neither a keyword nor a number or address is an identifier, which libpcap would look up.
 * Words after the keywords that take a name libpcap never resolves through the network (protocol
 * names after `proto`/`protochain`, from the local protocol table; 802.11 frame types; pf
 * actions and reasons; interface names after `on`/`ifname`; LLC frame types) are accepted.
 *
 * Size: libpcap's optimizer takes time growing with the cube of the number of terms (measured:
 * 64 `port N` terms 0.13 s, 128 0.66 s, 256 4 s; 1,600 `tcp port N` terms 107 s), and compiling
 * cannot be interrupted.  So a filter may combine at most NTG_FILTER_MAX_TERMS primitives with
 * and/or, in at most NTG_FILTER_MAX_LEN bytes.
 */
#include "capture/filter.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* Every keyword of libpcap 1.10's scanner, including its named constants. */
static const char *const keywords[] = {
	"dst", "src", "link", "ether", "ppp", "slip", "fddi", "tr", "wlan", "arp", "rarp", "ip", "sctp",
	"tcp", "udp", "icmp", "igmp", "igrp", "pim", "vrrp", "carp", "radio", "ip6", "icmp6", "ah",
	"esp", "atalk", "aarp", "decnet", "lat", "sca", "moprc", "mopdl", "iso", "esis", "es-is", "isis",
	"is-is", "l1", "l2", "iih", "lsp", "snp", "csnp", "psnp", "clnp", "stp", "ipx", "netbeui",
	"host", "net", "mask", "port", "portrange", "proto", "protochain", "gateway", "type", "subtype",
	"direction", "dir", "address1", "addr1", "address2", "addr2", "address3", "addr3", "address4",
	"addr4", "ra", "ta", "less", "greater", "byte", "broadcast", "multicast", "and", "or", "not",
	"len", "length", "inbound", "outbound", "ifindex", "vlan", "mpls", "pppoed", "pppoes", "geneve",
	"lane", "llc", "metac", "bcc", "oam", "oamf4", "oamf4ec", "oamf4sc", "sc", "ilmic", "vpi", "vci",
	"connectmsg", "metaconnect", "on", "ifname", "rset", "ruleset", "rnr", "rulenum", "srnr",
	"subrulenum", "reason", "action", "fisu", "lssu", "lsu", "msu", "hfisu", "hlssu", "hmsu", "sio",
	"opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls", "icmptype", "icmpcode", "icmp-echoreply",
	"icmp-unreach", "icmp-sourcequench", "icmp-redirect", "icmp-echo", "icmp-routeradvert",
	"icmp-routersolicit", "icmp-timxceed", "icmp-paramprob", "icmp-tstamp", "icmp-tstampreply",
	"icmp-ireq", "icmp-ireqreply", "icmp-maskreq", "icmp-maskreply", "icmp6type", "icmp6code",
	"icmp6-destinationunreach", "icmp6-packettoobig", "icmp6-timeexceeded",
	"icmp6-parameterproblem", "icmp6-echo", "icmp6-echoreply", "icmp6-multicastlistenerquery",
	"icmp6-multicastlistenerreportv1", "icmp6-multicastlistenerdone", "icmp6-routersolicit",
	"icmp6-routeradvert", "icmp6-neighborsolicit", "icmp6-neighboradvert", "icmp6-redirect",
	"icmp6-routerrenum", "icmp6-nodeinformationquery", "icmp6-nodeinformationresponse",
	"icmp6-ineighbordiscoverysolicit", "icmp6-ineighbordiscoveryadvert",
	"icmp6-multicastlistenerreportv2", "icmp6-homeagentdiscoveryrequest",
	"icmp6-homeagentdiscoveryreply", "icmp6-mobileprefixsolicit", "icmp6-mobileprefixadvert",
	"icmp6-certpathsolicit", "icmp6-certpathadvert", "icmp6-multicastrouteradvert",
	"icmp6-multicastroutersolicit", "icmp6-multicastrouterterm", "tcpflags", "tcp-fin", "tcp-syn",
	"tcp-rst", "tcp-push", "tcp-ack", "tcp-urg", "tcp-ece", "tcp-cwr", NULL
};

/* Keywords after which a word is a name libpcap does not look up through the network. */
static const char *const local_name_keywords[] = {
	"proto", "protochain", "type", "subtype", "direction", "dir", "action", "reason", "on",
	"ifname", "llc", NULL
};

static bool
in_list(const char *const *list, const char *w, size_t n)
{
	for (int i = 0; list[i]; i++)
		if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0)
			return true;
	return false;
}

static bool
is_hex(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char) w[i]))
			return false;
	return n > 0;
}

/* A number as libpcap reads one: decimal, octal, or 0x hexadecimal. */
static bool
is_number(const char *w, size_t n)
{
	if (n > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X'))
		return is_hex(w + 2, n - 2);
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char) w[i]))
			return false;
	return n > 0;
}

/* N.N, N.N.N or N.N.N.N (a host or network number). */
static bool
is_dotted(const char *w, size_t n)
{
	size_t		start = 0;
	int			parts = 0;

	for (size_t i = 0; i <= n; i++)
		if (i == n || w[i] == '.')
		{
			if (!is_number(w + start, i - start))
				return false;
			parts++;
			start = i + 1;
		}
	return parts >= 2 && parts <= 4;
}

/* A MAC address with '.' or '-' separators: 6 groups of 1-2 hex digits, 3 of 4, or 12 digits. */
static bool
is_mac(const char *w, size_t n)
{
	size_t		start = 0;
	int			parts = 0,
				width = -1;

	if (n == 12 && is_hex(w, n))
		return true;
	for (size_t i = 0; i <= n; i++)
		if (i == n || w[i] == '.' || w[i] == '-')
		{
			size_t		len = i - start;

			if (!is_hex(w + start, len) || (width >= 0 && (width == 4) != (len == 4)))
				return false;
			width = (int) len;
			parts++;
			start = i + 1;
		}
	return (parts == 6 && width <= 2) || (parts == 3 && width == 4);
}

/* N-N: a port range, which libpcap reads as numbers before it would look up service names. */
static bool
is_range(const char *w, size_t n)
{
	const char *dash = memchr(w, '-', n);

	return dash && is_number(w, dash - w) && is_number(dash + 1, n - (dash - w) - 1);
}

static int
name_error(NtgError *err, const char *w, size_t n)
{
	ntg_error(err, NTG_ERR_INVALID_ARG, "capture filter names a host, network or service: \"%.*s\"",
			  (int) (n > 64 ? 64 : n), w);
	ntg_error_detail(err, "Only numeric addresses and port numbers are accepted: resolving a name would make the database server look it up (in DNS, for example) on behalf of the caller.");
	return NTG_ERR_INVALID_ARG;
}

int
ntg_filter_check(const char *expr, NtgError *err)
{
	size_t		len = strlen(expr);
	const char *p = expr,
			   *prev = NULL;
	size_t		prevlen = 0;
	int			terms = 1;

	if (len > NTG_FILTER_MAX_LEN)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "capture filter is too long");
		ntg_error_detail(err, "It has %zu bytes; at most %d are accepted.", len, NTG_FILTER_MAX_LEN);
		return NTG_ERR_INVALID_ARG;
	}
	while (*p)
	{
		const char *w = p;
		size_t		n;

		if (isspace((unsigned char) *p))
		{
			p++;
			continue;
		}
		if (*p == '\\')
		{
			/* an escaped identifier: runs to a blank, '!', '(' or ')' */
			for (p++; *p && !isspace((unsigned char) *p) && !strchr("!()", *p); p++)
				;
			if (!(prev && in_list(local_name_keywords, prev, prevlen)))
				return name_error(err, w + 1, p - w - 1);
		}
		else if (isalnum((unsigned char) *p) || *p == ':')
		{
			/* a word: identifier characters, plus ':' of IPv6 and MAC addresses */
			while (*p && (isalnum((unsigned char) *p) || strchr("-_.:", *p)))
				p++;
			/* identifiers do not end in '-' or '_': neither do the words libpcap reads */
			while (p > w + 1 && (p[-1] == '-' || p[-1] == '_'))
				p--;
			n = p - w;
			if (n == 3 && memcmp(w, "and", 3) == 0)
				terms++;
			else if (n == 2 && memcmp(w, "or", 2) == 0)
				terms++;
			else if (!memchr(w, ':', n) && !in_list(keywords, w, n) && !is_number(w, n) &&
					 !is_dotted(w, n) && !is_mac(w, n) && !is_range(w, n) &&
					 !(prev && in_list(local_name_keywords, prev, prevlen)))
				return name_error(err, w, n);
			prev = w;
			prevlen = n;
			continue;
		}
		else
		{
			if ((p[0] == '&' && p[1] == '&') || (p[0] == '|' && p[1] == '|'))
			{
				terms++;
				p++;
			}
			p++;
		}
		prev = NULL;
		prevlen = 0;
	}
	if (terms > NTG_FILTER_MAX_TERMS)
	{
		ntg_error(err, NTG_ERR_INVALID_ARG, "capture filter has too many terms");
		ntg_error_detail(err, "It combines %d primitives with and/or; at most %d are accepted, because libpcap's filter compiler cannot be interrupted and its time grows with the cube of their number.",
						 terms, NTG_FILTER_MAX_TERMS);
		return NTG_ERR_INVALID_ARG;
	}
	return NTG_OK;
}
