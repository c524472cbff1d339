/* The `net` topic's collector: the proc files read each tick (parsed by
 * net_parse.c), the sysfs link state of each interface, the payload and the
 * families, both from the field tables. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

struct net_state {
	struct procfs_buf buf;
	struct procfs_file dev_file, snmp_file, sockstat_file; /* kept open for the ticks */
	struct procfs_buf small;                               /* sysfs speed */
	struct net_reading prev, cur;
	bool have_prev;
	int sys_fd; /* the sys root the operstate fds were opened under */
	const struct net_settings *set;
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
	uint64_t dt_ns = 0;
	size_t hint = 0;
	int r = -ENOMEM;

	*ret_payload = NULL;
	if (prev && procfs_delta(prev->mono_ns, cur->mono_ns, &dt_ns) < 0)
		dt_ns = 0;
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	if (json_num(payload, "t", (double)t_ms) < 0)
		goto out;
	arr = cJSON_AddArrayToObject(payload, "interfaces");
	if (!arr)
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
	*ret_payload = payload;
	payload = NULL;
	r = 0;
out:
	cJSON_Delete(payload);
	return r;
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

/* Decides which interfaces the payload carries and reads their link state.
 * fds and the speed move over from the previous reading of the same name;
 * those of vanished interfaces are closed. */
static void net_links(struct net_state *s, const struct collector_env *env, uint64_t mono_ns)
{
	size_t hint = 0;

	if (env->sys_fd != s->sys_fd) {
		net_close_fds(&s->prev.dev);
		for (size_t i = 0; i < s->prev.dev.n; i++)
			s->prev.dev.v[i].speed_next_ns = 0;
		s->sys_fd = env->sys_fd;
	}
	for (size_t i = 0; i < s->cur.dev.n; i++) {
		struct net_iface *e = &s->cur.dev.v[i], *p = NULL;
		const char *was = NULL;

		if (s->have_prev)
			p = net_find(&s->prev.dev, e->name, &hint);
		if (p) {
			e->state_fd = p->state_fd;
			p->state_fd = NET_FD_NONE;
			e->speed_mbps = p->speed_mbps;
			e->speed_next_ns = p->speed_next_ns;
			was = p->operstate;
		}
		e->loopback = strcmp(e->name, "lo") == 0;
		e->included = !s->set || list_match(&s->set->interfaces, e->name, true);
		if (!e->included) {
			if (e->state_fd >= 0)
				close(e->state_fd);
			e->state_fd = NET_FD_NONE;
			continue;
		}
		e->operstate = net_read_operstate(env->sys_fd, e);
		if (!p || e->speed_next_ns == 0 || e->operstate != was ||
		    mono_ns >= e->speed_next_ns) {
			e->speed_mbps = net_read_speed(env->sys_fd, e->name, &s->small);
			e->speed_next_ns = mono_ns + NET_SPEED_REFRESH_NS;
		}
	}
	net_close_fds(&s->prev.dev);
}

/* Reads and parses the three proc files into *ret; on failure names the
 * file and whether parsing failed. */
static int net_read(struct net_state *s, int proc_fd, struct net_reading *ret,
		    const char **ret_path, bool *ret_parsing)
{
	int r;

	*ret_parsing = false;
	*ret_path = "net/dev";
	r = procfs_read_file(&s->dev_file, proc_fd, "net/dev", &s->buf, NET_DEV_MAX);
	if (r < 0)
		return r;
	*ret_parsing = true;
	r = net_dev_parse(s->buf.data, s->buf.len, &ret->dev);
	if (r < 0)
		return r;
	*ret_parsing = false;
	*ret_path = "net/snmp";
	r = procfs_read_file(&s->snmp_file, proc_fd, "net/snmp", &s->buf, NET_SMALL_MAX);
	if (r < 0)
		return r;
	*ret_parsing = true;
	r = net_snmp_parse(s->buf.data, s->buf.len, &ret->tcp);
	if (r < 0)
		return r;
	*ret_parsing = false;
	*ret_path = "net/sockstat";
	r = procfs_read_file(&s->sockstat_file, proc_fd, "net/sockstat", &s->buf, NET_SMALL_MAX);
	if (r < 0)
		return r;
	*ret_parsing = true;
	return net_sockstat_parse(s->buf.data, s->buf.len, &ret->sock);
}

static void net_fini(void *state)
{
	struct net_state *s = state;

	if (!s)
		return;
	net_close_fds(&s->prev.dev);
	net_close_fds(&s->cur.dev);
	net_reading_free(&s->prev);
	net_reading_free(&s->cur);
	procfs_buf_free(&s->buf);
	procfs_buf_free(&s->small);
	procfs_file_close(&s->dev_file);
	procfs_file_close(&s->snmp_file);
	procfs_file_close(&s->sockstat_file);
	free(s);
}

/* Reads and parses the proc files once, so that a missing or foreign file
 * turns the topic off now; sysfs is optional (its values are then null). */
static int net_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct net_state *s;
	const char *path = "net/dev";
	bool parsing = false;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		procfs_reason(reason, reason_len, path, r, parsing);
		goto out;
	}
	s->sys_fd = env->sys_fd;
	s->set = settings;
	r = net_read(s, env->proc_fd, &s->cur, &path, &parsing);
	if (r < 0) {
		procfs_reason(reason, reason_len, path, r, parsing);
		goto out;
	}
	s->cur.dev.n = 0;
	*ret_state = s;
	s = NULL;
out:
	net_fini(s);
	return r;
}

/* Every tick sends the totals and link state; rates need the previous
 * reading of the same interface. A failed read keeps the previous reading,
 * so the next rates span two intervals. */
static int net_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct net_state *s = state;
	struct net_reading tmp;
	const char *path;
	bool parsing;
	int r;

	*ret_payload = NULL;
	r = net_read(s, env->proc_fd, &s->cur, &path, &parsing);
	if (r < 0)
		goto out;
	s->cur.mono_ns = tick->mono_ns;
	net_links(s, env, tick->mono_ns);
	r = net_build_payload(s->have_prev ? &s->prev : NULL, &s->cur, tick->t_ms, ret_payload);
	/* the fds now live in cur: it becomes prev whatever happened */
	tmp = s->prev;
	s->prev = s->cur;
	s->cur = tmp;
	s->cur.dev.n = 0;
	s->have_prev = true;
out:
	return r;
}

/* The page's chart of each device's throughput (see daemon/history.h). */
static const char *const net_history[] = {"interfaces[].name", "interfaces[].rx_bytes_per_s",
					  "interfaces[].tx_bytes_per_s", NULL};

/* node_exporter's netdev families for the interfaces the payload shows,
 * from the last good reading (prev; cur is scratch), and the TCP numbers. */
static int net_metrics(void *state, struct metrics *m)
{
	const struct net_state *s = state;
	const struct net_reading *rd = &s->prev;
	struct field_insts x = {0};
	int r;

	if (!s->have_prev)
		return 0;
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

const struct collector net_collector = {
    .name = "net",
    .settings = net_keys,
    .settings_size = sizeof(struct net_settings),
    .history = net_history,
    .fields = net_tables,
    .init = net_init,
    .sample = net_sample,
    .metrics = net_metrics,
    .fini = net_fini,
};
