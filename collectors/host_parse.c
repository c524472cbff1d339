/* The `host` topic's parsers: cpuinfo, os-release, btime, DMI and cgroup
 * hints. */
#include "host_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "procfs.h"

/* --- /proc/cpuinfo --- */

struct host_pair {
	long pkg;
	long core;
};

/* Splits "key<ws>: value" into key (trailing blanks cut) and value
 * (leading blanks cut). */
static int host_split_kv(const char *line, size_t len, const char **k, size_t *kl, const char **v,
			 size_t *vl)
{
	const char *colon = memchr(line, ':', len);
	size_t n;

	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	*k = line;
	*kl = n;
	*v = colon + 1;
	*vl = len - (size_t)(colon - line) - 1;
	while (*vl > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*vl)--;
	}
	return 0;
}

static bool host_key_is(const char *k, size_t kl, const char *word)
{
	return procfs_token_is(k, kl, word);
}

static int host_parse_long(const char *v, size_t vl, long *ret)
{
	uint64_t x;
	int r = procfs_parse_u64(v, vl, &x);

	if (r < 0)
		return r;
	if (x > 1000000000)
		return -ERANGE;
	*ret = (long)x;
	return 0;
}

static bool host_has_word(const char *s, size_t len, const char *word)
{
	const char *p = s, *end = s + len, *tok;
	size_t tl;

	while (procfs_next_token(&p, end, &tok, &tl) > 0) {
		if (procfs_token_is(tok, tl, word))
			return true;
	}
	return false;
}

static int host_pair_cmp(const void *a, const void *b)
{
	const struct host_pair *x = a, *y = b;

	if (x->pkg != y->pkg)
		return x->pkg < y->pkg ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	return 0;
}

void host_cpu_free(struct host_cpu *cpu)
{
	if (!cpu)
		return;
	free(cpu->model);
	cpu->model = NULL;
}

int host_cpuinfo_parse(const char *text, size_t len, struct host_cpu *ret)
{
	static const char *const model_keys[] = {"model name", "Processor", "cpu model", "cpu"};
	const char *p = text, *end = text + len, *line, *model = NULL;
	size_t line_len, model_len = 0, n_pairs = 0, cap = 0;
	unsigned model_rank = sizeof(model_keys) / sizeof(model_keys[0]);
	struct host_pair *pairs = NULL, cur = {-1, -1};
	bool all_core = true, all_pkg = true, in_cpu = false;
	struct host_cpu c = {.cores = -1, .sockets = -1};
	int r;

	/* a processor block ends at a blank line, at the next "processor"
	 * and at the end of the file */
#define HOST_END_BLOCK()                                                                           \
	do {                                                                                       \
		if (in_cpu) {                                                                      \
			if (ARRAY_GROW(pairs, cap, n_pairs, 64) < 0) {                             \
				r = -ENOMEM;                                                       \
				goto out;                                                          \
			}                                                                          \
			all_core = all_core && cur.core >= 0;                                      \
			all_pkg = all_pkg && cur.pkg >= 0;                                         \
			pairs[n_pairs++] = cur;                                                    \
		}                                                                                  \
		in_cpu = false;                                                                    \
		cur.pkg = cur.core = -1;                                                           \
	} while (0)

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *k, *v;
		size_t kl, vl;

		if (line_len == 0) {
			HOST_END_BLOCK();
			continue;
		}
		if (memchr(line, '\0', line_len)) {
			r = -EINVAL;
			goto out;
		}
		r = host_split_kv(line, line_len, &k, &kl, &v, &vl);
		if (r < 0)
			goto out;
		if (host_key_is(k, kl, "processor")) {
			HOST_END_BLOCK();
			in_cpu = true;
			c.logical++;
		} else if (host_key_is(k, kl, "physical id")) {
			if ((r = host_parse_long(v, vl, &cur.pkg)) < 0)
				goto out;
		} else if (host_key_is(k, kl, "core id")) {
			if ((r = host_parse_long(v, vl, &cur.core)) < 0)
				goto out;
		} else if (host_key_is(k, kl, "flags")) {
			c.has_flags = true;
			c.hypervisor = c.hypervisor || host_has_word(v, vl, "hypervisor");
		}
		for (unsigned i = 0; i < model_rank; i++) {
			if (host_key_is(k, kl, model_keys[i]) && vl > 0) {
				model = v;
				model_len = vl;
				model_rank = i;
				break;
			}
		}
	}
	if (r < 0)
		goto out;
	HOST_END_BLOCK();
#undef HOST_END_BLOCK
	if (c.logical == 0) {
		r = -ENODATA;
		goto out;
	}
	if (all_core) {
		qsort(pairs, n_pairs, sizeof(*pairs), host_pair_cmp);
		c.cores = 0;
		c.sockets = 0;
		for (size_t i = 0; i < n_pairs; i++) {
			bool new_pkg = i == 0 || pairs[i].pkg != pairs[i - 1].pkg;

			c.sockets += new_pkg;
			c.cores += new_pkg || pairs[i].core != pairs[i - 1].core;
		}
		if (!all_pkg)
			c.sockets = -1;
	} else {
		c.cores = (int)c.logical;
	}
	if (model) {
		c.model = strndup(model, model_len);
		if (!c.model) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = c;
	r = 0;
out:
	free(pairs);
	return r;
}

/* --- os-release, stat, machine-id --- */

/* Decodes a value of an os-release line into out (at least len + 1). */
static int host_os_value(const char *v, size_t len, char *out)
{
	size_t o = 0;

	if (len > 0 && (v[0] == '"' || v[0] == '\'')) {
		char q = v[0];
		size_t i;

		for (i = 1; i < len && v[i] != q; i++) {
			if (q == '"' && v[i] == '\\' && i + 1 < len && strchr("\\\"$`", v[i + 1]))
				i++;
			out[o++] = v[i];
		}
		if (i >= len)
			return -EINVAL; /* unterminated */
		for (i++; i < len; i++) {
			if (v[i] != ' ' && v[i] != '\t')
				return -EINVAL;
		}
	} else {
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		for (size_t i = 0; i < len; i++) {
			if (strchr("\"'\\`$ \t", v[i]))
				return -EINVAL; /* would need quoting */
			out[o++] = v[i];
		}
	}
	out[o] = '\0';
	return 0;
}

int host_os_release_value(const char *text, size_t len, const char *key, char **ret)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len, key_len = strlen(key);
	char *found = NULL;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *eq;
		char *val;
		size_t i = 0;

		while (i < line_len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == line_len || line[i] == '#')
			continue;
		eq = memchr(line + i, '=', line_len - i);
		if (!eq || eq == line + i || memchr(line, '\0', line_len)) {
			r = -EINVAL;
			goto out;
		}
		for (const char *c = line + i; c < eq; c++) {
			if (!isalnum((unsigned char)*c) && *c != '_') {
				r = -EINVAL;
				goto out;
			}
		}
		val = malloc(line_len + 1);
		if (!val) {
			r = -ENOMEM;
			goto out;
		}
		r = host_os_value(eq + 1, line_len - (size_t)(eq + 1 - line), val);
		if (r < 0) {
			free(val);
			goto out;
		}
		if ((size_t)(eq - line - i) == key_len && memcmp(line + i, key, key_len) == 0) {
			free(found);
			found = val;
		} else {
			free(val);
		}
	}
	if (r < 0)
		goto out;
	r = found ? 0 : -ENOENT;
out:
	if (r == 0)
		*ret = found;
	else
		free(found);
	return r;
}

int host_btime_parse(const char *text, size_t len, uint64_t *ret)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		if (line_len > 6 && memcmp(line, "btime ", 6) == 0)
			return procfs_parse_u64(line + 6, line_len - 6, ret);
	}
	return r < 0 ? r : -ENODATA;
}

/* --- virtualization --- */

const char *host_vm_from_dmi(const char *sys_vendor, const char *product_name,
			     const char *bios_vendor)
{
	/* systemd's src/basic/virt.c table, matched as prefixes */
	static const struct {
		const char *prefix;
		const char *vm;
	} table[] = {
	    {"KVM", "kvm"},
	    {"OpenStack", "kvm"},
	    {"KubeVirt", "kvm"},
	    {"Amazon EC2", "amazon"},
	    {"QEMU", "qemu"},
	    {"VMware", "vmware"},
	    {"VMW", "vmware"},
	    {"innotek GmbH", "oracle"},
	    {"VirtualBox", "oracle"},
	    {"Oracle Corporation", "oracle"},
	    {"Xen", "xen"},
	    {"Bochs", "bochs"},
	    {"Parallels", "parallels"},
	    {"BHYVE", "bhyve"},
	    {"Hyper-V", "microsoft"},
	    {"Apple Virtualization", "apple"},
	    {"Google", "google"},
	};
	const char *const strings[] = {product_name, sys_vendor, bios_vendor};

	for (size_t s = 0; s < 3; s++) {
		if (!strings[s])
			continue;
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			if (strncmp(strings[s], table[i].prefix, strlen(table[i].prefix)) == 0)
				return table[i].vm;
		}
	}
	/* Microsoft also makes laptops: only its "Virtual Machine" is Hyper-V */
	if (sys_vendor && product_name && strcmp(sys_vendor, "Microsoft Corporation") == 0 &&
	    strcmp(product_name, "Virtual Machine") == 0)
		return "microsoft";
	return NULL;
}

const char *host_container_from_cgroup(const char *text, size_t len)
{
	static const struct {
		const char *needle;
		const char *name;
	} hints[] = {
	    {"/docker/", "docker"},       {"/docker-", "docker"}, {"/libpod-", "podman"},
	    {"/libpod_parent", "podman"}, {"/lxc/", "lxc"},       {"/lxc.payload", "lxc"},
	    {"/kubepods", "kubernetes"},
	};
	const char *p = text, *end = text + len, *line;
	size_t line_len;

	while (procfs_next_line(&p, end, &line, &line_len) > 0) {
		for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
			if (memmem(line, line_len, hints[i].needle, strlen(hints[i].needle)))
				return hints[i].name;
		}
	}
	return NULL;
}
