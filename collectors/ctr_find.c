/* Containers told from their cgroup directory names, and the walk of a
 * hierarchy that finds them and watches where they appear (ctr_find.h). */
#include "ctr_find.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cgroup.h"
#include "procfs.h"

/* What a watched directory reports: directories made or removed in it. */
#define CTR_WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

static const char *const ctr_engines[CTR_NENGINES] = {
    [CTR_DOCKER] = "docker", [CTR_PODMAN] = "podman", [CTR_CONTAINERD] = "containerd",
    [CTR_CRIO] = "cri-o",    [CTR_NSPAWN] = "nspawn",
};

const char *ctr_engine_name(enum ctr_engine engine)
{
	return engine < CTR_NENGINES ? ctr_engines[engine] : "?";
}

static bool ctr_is_id(const char *s, size_t len)
{
	if (len != CTR_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ctr_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ctr_suffix(const char *s, size_t len, const char *suffix)
{
	size_t k = strlen(suffix);

	return len > k && memcmp(s + len - k, suffix, k) == 0;
}

/* PREFIX ID SUFFIX: the id into ret. */
static bool ctr_wrapped(const char *name, const char *prefix, const char *suffix,
			struct ctr_ref *ret)
{
	size_t len = strlen(name), p = strlen(prefix), q = strlen(suffix);

	if (len != p + CTR_ID_MAX + q || !ctr_prefix(name, prefix) ||
	    memcmp(name + len - q, suffix, q) != 0 || !ctr_is_id(name + p, CTR_ID_MAX))
		return false;
	memcpy(ret->id, name + p, CTR_ID_MAX);
	ret->id[CTR_ID_MAX] = '\0';
	return true;
}

/* systemd's unit name escaping undone: "\xNN" is the byte NN. Returns
 * false for a name that does not fit or a bad escape. */
static bool ctr_unescape(const char *s, size_t len, char *out, size_t out_size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int hi = 0, lo = 0;

		if (o + 1 >= out_size)
			return false;
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (i + 3 >= len || s[i + 1] != 'x' || (hi = procfs_hex_digit(s[i + 2])) < 0 ||
		    (lo = procfs_hex_digit(s[i + 3])) < 0 || (hi == 0 && lo == 0))
			return false;
		out[o++] = (char)(hi * 16 + lo);
		i += 3;
	}
	out[o] = '\0';
	return o > 0;
}

bool ctr_classify(const char *parent, const char *name, struct ctr_ref *ret)
{
	size_t len = strlen(name);

	if (ctr_prefix(name, "libpod-conmon-"))
		return false;
	if (ctr_wrapped(name, "docker-", ".scope", ret)) {
		ret->engine = CTR_DOCKER;
		return true;
	}
	if (ctr_wrapped(name, "libpod-", ".scope", ret) || ctr_wrapped(name, "libpod-", "", ret)) {
		ret->engine = CTR_PODMAN;
		return true;
	}
	if (ctr_wrapped(name, "cri-containerd-", ".scope", ret)) {
		ret->engine = CTR_CONTAINERD;
		return true;
	}
	if (ctr_wrapped(name, "crio-", ".scope", ret)) {
		ret->engine = CTR_CRIO;
		return true;
	}
	if (ctr_wrapped(name, "", "", ret)) {
		ret->engine = strcmp(parent, "docker") == 0 ? CTR_DOCKER : CTR_CONTAINERD;
		return true;
	}
	if (strcmp(parent, "machine.slice") == 0 && ctr_prefix(name, "machine-") &&
	    ctr_suffix(name, len, ".scope") &&
	    ctr_unescape(name + 8, len - 8 - 6, ret->id, sizeof(ret->id))) {
		ret->engine = CTR_NSPAWN;
		return true;
	}
	return false;
}

/* Whether a directory that is not a container may hold some (so that it
 * is looked into and watched): slices, user@UID.service (rootless
 * Podman), docker/ and libpod_parent/ (cgroupfs drivers), kubepods/ with
 * its QoS classes and pods, machine/, and containerd's namespaces at the
 * root. Not the rest: another program's cgroups coming and going there
 * (a build farm's, a job runner's) would wake the walk for nothing. */
static bool ctr_descend(const char *parent, const char *name, size_t len, unsigned depth)
{
	static const char *const roots[] = {"docker",  "libpod_parent", "kubepods", "machine",
					    "default", "k8s.io",        "moby",     "containerd"};

	if (ctr_suffix(name, len, ".slice"))
		return true;
	if (ctr_suffix(name, len, ".service"))
		return ctr_prefix(name, "user@");
	if (depth == 0) {
		for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
			if (strcmp(name, roots[i]) == 0)
				return true;
		return false;
	}
	if (strcmp(parent, "kubepods") == 0)
		return strcmp(name, "burstable") == 0 || strcmp(name, "besteffort") == 0 ||
		       ctr_prefix(name, "pod");
	if (strcmp(parent, "burstable") == 0 || strcmp(parent, "besteffort") == 0)
		return ctr_prefix(name, "pod");
	return false;
}

struct ctr_walk {
	int inotify_fd;
	char *dents;
	size_t dents_size;
	ctr_found_fn found;
	void *ctx;
	char path[PATH_MAX];
};

/* Lists the directory fd (at w->path, len bytes of it, named name) at depth. */
static int ctr_walk_dir(struct ctr_walk *w, int fd, size_t len, const char *name, long uid,
			unsigned depth)
{
	size_t size = w->dents_size / (CTR_MAX_DEPTH + 1);
	struct procfs_dents it = PROCFS_DENTS(fd, w->dents + (size_t)depth * size, size);
	const struct dirent64 *d;
	int r;

	if (w->inotify_fd >= 0)
		(void)cgroup_watch(w->inotify_fd, fd, CTR_WATCH_MASK);
	while ((r = procfs_dents_next(&it, &d)) > 0) {
		size_t nlen = strlen(d->d_name);
		struct ctr_ref ref;
		long sub_uid = uid;
		int sfd;

		if ((d->d_type != DT_DIR && d->d_type != DT_UNKNOWN) || d->d_name[0] == '.' ||
		    nlen >= CTR_NAME_MAX || len + 1 + nlen >= sizeof(w->path))
			continue;
		w->path[len] = len ? '/' : '\0';
		memcpy(w->path + len + (len ? 1 : 0), d->d_name, nlen + 1);
		if (ctr_classify(name, d->d_name, &ref)) {
			ref.rel = w->path;
			ref.parent = name;
			ref.uid = uid;
			r = w->found(w->ctx, &ref);
			w->path[len] = '\0';
			if (r < 0)
				return r;
			continue;
		}
		if (depth + 1 >= CTR_MAX_DEPTH || !ctr_descend(name, d->d_name, nlen, depth)) {
			w->path[len] = '\0';
			continue;
		}
		if (ctr_prefix(d->d_name, "user@"))
			sub_uid = strtol(d->d_name + 5, NULL, 10);
		sfd = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0) {
			char sub[CTR_NAME_MAX];

			memcpy(sub, d->d_name, nlen + 1);
			r = ctr_walk_dir(w, sfd, len + (len ? 1 : 0) + nlen, sub, sub_uid,
					 depth + 1);
			close(sfd);
			if (r == -ENOMEM)
				return r; /* from found; a directory that cannot be
					     read is skipped */
		}
		w->path[len] = '\0';
	}
	return r;
}

int ctr_walk(int root_fd, int inotify_fd, char *dents, size_t dents_size, ctr_found_fn found,
	     void *ctx)
{
	struct ctr_walk *w = malloc(sizeof(*w));
	int fd, r;

	if (!w)
		return -ENOMEM;
	*w = (struct ctr_walk){.inotify_fd = inotify_fd,
			       .dents = dents,
			       .dents_size = dents_size,
			       .found = found,
			       .ctx = ctx};
	fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = ctr_walk_dir(w, fd, 0, "", -1, 0);
	close(fd);
out:
	free(w);
	return r;
}
