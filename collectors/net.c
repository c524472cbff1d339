/* The `net` topic's collector: the proc files read each tick (parsed by
 * net_parse.c), the sysfs link state of each interface, the payload and the
 * families, both from the field tables. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flat.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

/* /proc/net/dev is about 130 bytes a device: room for ~60,000 devices. */
#define NET_DEV_MAX (8u << 20)
/* /proc/net/snmp and sockstat are a few KiB. */
#define NET_SMALL_MAX (64u << 10)
/* Speed is read when an interface appears, when its operstate changes
 * and at least this often (a bond's speed follows its slaves). */
#define NET_SPEED_REFRESH_NS (30ull * 1000000000ull)

/* The net collector's own part of its flat state. */
struct net_own {
	struct procfs_buf small; /* sysfs speed */
	int sys_fd;              /* the sys root the operstate fds were opened under */
	/* On the live /sys: the kernel's link messages (RTMGRP_LINK), which
	 * say when an interface's state may have changed; without them every
	 * operstate is read at every tick. */
	bool nl_on;
	int nl;
	struct collector_watch nl_watch; /* nl in the daemon's poll (while nl_on) */
};

/* --- the payload --- */

/* Finds name in d, starting at *hint and wrapping: interfaces keep their
 * order between ticks, so this is one comparison unless one appeared. */
static struct net_iface *net_find(const struct net_dev *d, const char *name, size_t *hint)
{
	for (size_t k = 0; k < d->n; k++) {
		size_t i = (*hint + k) % d->n;

		if (strcmp(d->v[i].name, name) == 0) {
			*hint = i + 1;
			return &d->v[i];
		}
	}
	return NULL;
}

int net_build_payload(const struct net_reading *prev, const struct net_reading *cur, int64_t t_ms,
		      cJSON **ret_payload)
{
	cJSON *payload, *arr, *o;
	uint64_t dt_ns;
	size_t hint = 0;
	int r = -ENOMEM;

	*ret_payload = NULL;
	dt_ns = procfs_elapsed(prev, prev ? prev->mono_ns : 0, cur->mono_ns);
	payload = json_payload_array(t_ms, "interfaces", &arr);
	if (!payload)
		goto out;
	for (size_t i = 0; i < cur->dev.n; i++) {
		const struct net_iface *e = &cur->dev.v[i], *p = NULL;

		if (!e->included)
			continue;
		if (prev)
			p = net_find(&prev->dev, e->name, &hint);
		if (fields_json_append(arr, &net_dev_table, &(struct field_inst){e, 0, NULL},
				       p ? &(struct field_inst){p, 0, NULL} : NULL, dt_ns) < 0)
			goto out;
	}
	o = cJSON_AddObjectToObject(payload, "tcp");
	if (!o || fields_json(o, &net_tcp_table, &(struct field_inst){cur, 0, NULL},
			      prev ? &(struct field_inst){prev, 0, NULL} : NULL, dt_ns) < 0)
		goto out;
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* --- the collector --- */

/* The interface's operstate through its kept fd: one pread a tick. A
 * failing fd (the device went away) is reopened once; a missing attribute
 * (kernels before 2.6.17) is not looked for again. */
static const char *net_read_operstate(int sys_fd, struct net_iface *e)
{
	char path[64], text[32];
	bool fresh = false;

	for (;;) {
		ssize_t n;

		if (e->state_fd == NET_FD_ABSENT)
			return NULL;
		if (e->state_fd < 0) {
			snprintf(path, sizeof(path), "class/net/%s/operstate", e->name);
			e->state_fd = openat(sys_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
			if (e->state_fd < 0) {
				e->state_fd = errno == ENOENT ? NET_FD_ABSENT : NET_FD_NONE;
				return NULL;
			}
			fresh = true;
		}
		n = pread(e->state_fd, text, sizeof(text), 0);
		if (n >= 0)
			return net_operstate_parse(text, (size_t)n);
		close(e->state_fd);
		e->state_fd = NET_FD_NONE;
		if (fresh)
			return NULL;
	}
}

static int64_t net_read_speed(int sys_fd, const char *name, struct procfs_buf *buf)
{
	char path[64];

	snprintf(path, sizeof(path), "class/net/%s/speed", name);
	/* virtual devices answer EINVAL, down ones too: unknown */
	if (procfs_read(sys_fd, path, buf, 64) < 0)
		return -1;
	return net_speed_parse(buf->data, buf->len);
}

static void net_close_fds(struct net_dev *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].state_fd >= 0)
			close(d->v[i].state_fd);
		d->v[i].state_fd = NET_FD_NONE;
	}
}

/* Whether sys_fd is this process's own /sys (its class/net the same
 * directory), whose interfaces the kernel's link messages are about. */
static bool net_sys_live(int sys_fd)
{
	struct stat a, b;

	return fstatat(sys_fd, "class/net", &a, 0) == 0 && stat("/sys/class/net", &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* env NULL: at fini, when the daemon polls no more. */
static void net_nl_close(struct net_own *own, const struct collector_env *env)
{
	if (own->nl_on && env)
		collector_watch_fd_close(&own->nl_watch, env);
	if (own->nl_on)
		close(own->nl);
	own->nl_on = false;
}

/* Joins the kernel's link messages; without them (a unit that does not
 * allow AF_NETLINK, an old kernel) every tick reads each operstate. */
static void net_nl_open(struct net_own *own, const struct collector_env *env)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	own->nl = fd;
	own->nl_on = true;
	collector_watch_fd(&own->nl_watch, env, fd);
}

/* Whether an interface may have changed since the last tick: a link
 * message came (any: they are rare), or some were lost (ENOBUFS), or the
 * socket broke, which ends its use. Reads them all, never waiting, when
 * the daemon's poll found the socket readable (without it, every tick). */
static bool net_nl_changed(struct net_own *own, const struct collector_env *env)
{
	char buf[8192];
	bool changed = false;

	if (!own->nl_on)
		return true;
	if (!collector_watch_changed(&own->nl_watch, env))
		return false;
	for (;;) {
		ssize_t n = recv(own->nl, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 || (n < 0 && errno == ENOBUFS)) {
			changed = true;
		} else if (n < 0 && errno == EAGAIN) {
			return changed;
		} else if (n == 0 || errno != EINTR) {
			net_nl_close(own, env);
			return true;
		}
	}
}

/* Decides which interfaces the payload carries and reads their link state:
 * an interface's operstate is read when it is new, when a link message
 * came since the last tick, or at every tick without them. fds and the
 * speed move over from the previous reading of the same name; those of
 * vanished interfaces are closed. */
static void net_links(struct flat *f, const struct collector_env *env,
		      const struct collector_tick *tick)
{
	struct net_reading *cur = f->cur, *prev = f->prev;
	struct net_own *own = f->own;
	const struct net_settings *set = f->settings;
	const uint64_t mono_ns = tick->mono_ns;
	size_t hint = 0;
	bool changed, fresh_root = env->sys_fd != own->sys_fd;

	cur->mono_ns = mono_ns;
	if (fresh_root) {
		net_close_fds(&prev->dev);
		for (size_t i = 0; i < prev->dev.n; i++)
			prev->dev.v[i].speed_next_ns = 0;
		own->sys_fd = env->sys_fd;
		net_nl_close(own, env);
		if (env->sys_fd >= 0 && net_sys_live(env->sys_fd))
			net_nl_open(own, env); /* before the reads: a change after them is told */
	}
	changed = net_nl_changed(own, env) || fresh_root;
	for (size_t i = 0; i < cur->dev.n; i++) {
		struct net_iface *e = &cur->dev.v[i], *p = NULL;
		const char *was = NULL;

		if (f->have_prev)
			p = net_find(&prev->dev, e->name, &hint);
		if (p) {
			e->state_fd = p->state_fd;
			p->state_fd = NET_FD_NONE;
			e->speed_mbps = p->speed_mbps;
			e->speed_next_ns = p->speed_next_ns;
			was = p->operstate;
		}
		e->loopback = strcmp(e->name, "lo") == 0;
		e->included = !set || list_match(&set->interfaces, e->name, true);
		if (!e->included) {
			if (e->state_fd >= 0)
				close(e->state_fd);
			e->state_fd = NET_FD_NONE;
			continue;
		}
		/* an fd moved over: the last tick read this state */
		if (!p || changed || e->state_fd < 0)
			e->operstate = net_read_operstate(env->sys_fd, e);
		else
			e->operstate = was;
		if (!p || e->speed_next_ns == 0 || e->operstate != was ||
		    mono_ns >= e->speed_next_ns) {
			e->speed_mbps = net_read_speed(env->sys_fd, e->name, &own->small);
			e->speed_next_ns = mono_ns + NET_SPEED_REFRESH_NS;
		}
	}
	net_close_fds(&prev->dev);
}

/* The flat runtime's reading is a struct net_reading. */
static int net_parse_dev(const char *text, size_t len, void *reading, size_t index)
{
	return net_dev_parse(text, len, &((struct net_reading *)reading)->dev);
}

static int net_parse_snmp(const char *text, size_t len, void *reading, size_t index)
{
	return net_snmp_parse(text, len, &((struct net_reading *)reading)->tcp);
}

static int net_parse_sockstat(const char *text, size_t len, void *reading, size_t index)
{
	return net_sockstat_parse(text, len, &((struct net_reading *)reading)->sock);
}

/* Every tick sends the totals and link state; rates need the previous
 * reading of the same interface. The fds live in the reading, which
 * becomes the last good one whatever the payload did. */
static int net_payload(const struct flat *f, const void *prev, const struct collector_tick *tick,
		       cJSON **ret_payload)
{
	return net_build_payload(prev, f->cur, tick->t_ms, ret_payload);
}

static void net_reset(void *reading)
{
	((struct net_reading *)reading)->dev.n = 0;
}

static void net_free(void *reading)
{
	net_close_fds(&((struct net_reading *)reading)->dev);
	net_reading_free(reading);
}

static void net_own_free(void *own)
{
	net_nl_close(own, NULL);
	procfs_buf_free(&((struct net_own *)own)->small);
}

/* The page's chart of each device's throughput (see daemon/history.h). */
static const char *const net_history[] = {"interfaces[].name", "interfaces[].rx_bytes_per_s",
					  "interfaces[].tx_bytes_per_s", NULL};

/* node_exporter's netdev families for the interfaces the payload shows,
 * from the last good reading (prev; cur is scratch), and the TCP numbers. */
static int net_metrics(const struct flat *f, struct metrics *m)
{
	const struct net_reading *rd = f->prev;
	struct field_insts x = {0};
	int r;

	r = fields_insts_init(&x, rd->dev.n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rd->dev.n; i++) {
		if (rd->dev.v[i].included)
			fields_insts_add(&x, &rd->dev.v[i], 0, "device", rd->dev.v[i].name, NULL,
					 NULL);
	}
	fields_prom(m, &net_dev_table, x.v, x.n);
	fields_insts_free(&x);
	fields_prom(m, &net_tcp_table, &(struct field_inst){rd, 0, NULL}, 1);
	return metrics_error(m);
}

static const struct field_table *const net_tables[] = {&net_dev_table, &net_tcp_table, NULL};

static const struct setting net_keys[] = {
    SETTING("interfaces", SET_LIST, offsetof(struct net_settings, interfaces), 0, LIST_MAX, NULL),
    {0},
};

/* The proc files are read each tick; sysfs is optional (its values are
 * then null). */
static const struct flat_file net_files[] = {
    {.path = "net/dev", .max = NET_DEV_MAX, .parse = net_parse_dev},
    {.path = "net/snmp", .max = NET_SMALL_MAX, .parse = net_parse_snmp},
    {.path = "net/sockstat", .max = NET_SMALL_MAX, .parse = net_parse_sockstat},
};

static const struct flat_desc net_flat = {
    .files = net_files,
    .n_files = 3,
    .reading_size = sizeof(struct net_reading),
    .own_size = sizeof(struct net_own),
    .prepare = net_links,
    .payload = net_payload,
    .metrics = net_metrics,
    .reset = net_reset,
    .reading_free = net_free,
    .own_free = net_own_free,
};

FLAT_COLLECTOR(net, .name = "net", .settings = net_keys,
	       .settings_size = sizeof(struct net_settings), .history = net_history,
	       .fields = net_tables);
