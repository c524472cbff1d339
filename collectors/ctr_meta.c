/* Containers' names and images from the engines' metadata files, read-only
 * (ctr_meta.h). */
#include "ctr_meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfs.h"

/* config.v2.json and OCI config.json are a few KiB; containers.json holds
 * every container of a storage root. */
#define CTR_META_JSON_MAX (4u << 20)
#define CTR_META_LIST_MAX (32u << 20)
#define CTR_META_TEXT_MAX (1u << 20)

/* Podman's storage drivers, each with its DRIVER-containers/containers.json. */
static const char *const ctr_drivers[] = {"overlay", "vfs", "btrfs", "zfs"};

int ctr_meta_init(struct ctr_meta_ctx *m, int proc_fd)
{
	*m = (struct ctr_meta_ctx){.root_fd = -1, .proc_fd = proc_fd};
	if (proc_fd < 0)
		return -EBADF;
	m->root_fd = openat(proc_fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return m->root_fd < 0 ? -errno : 0;
}

void ctr_meta_fini(struct ctr_meta_ctx *m)
{
	if (m->root_fd >= 0)
		close(m->root_fd);
	m->root_fd = -1;
	for (size_t i = 0; i < CTR_META_FILES; i++) {
		free(m->files[i].path);
		cJSON_Delete(m->files[i].doc);
		m->files[i] = (struct ctr_meta_file){0};
	}
}

void ctr_meta_done(struct ctr_meta *meta)
{
	free(meta->name);
	free(meta->image);
	meta->name = meta->image = NULL;
}

/* A JSON file under the root, parsed, or NULL. */
static cJSON *ctr_json(int dir, const char *path, size_t max)
{
	struct procfs_buf buf = {0};
	cJSON *doc = NULL;

	if (dir >= 0 && procfs_read(dir, path, &buf, max) == 0)
		doc = cJSON_ParseWithLength(buf.data, buf.len);
	procfs_buf_free(&buf);
	return doc;
}

/* A copy of the string at key of o (NULL for none or not a string);
 * -ENOMEM when the copy fails. */
static int ctr_take(const cJSON *o, const char *key, char **ret)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	if (!v || !*v || *ret)
		return 0;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

/* Docker: "Name" ("/web") and "Config"."Image". */
static int ctr_docker(struct ctr_meta_ctx *m, const char *id, struct ctr_meta *ret)
{
	char path[PATH_MAX];
	const char *name;
	cJSON *doc;
	int r = 0;

	snprintf(path, sizeof(path), "var/lib/docker/containers/%s/config.v2.json", id);
	doc = ctr_json(m->root_fd, path, CTR_META_JSON_MAX);
	if (!doc)
		return 0;
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "Name"));
	if (name && *name == '/')
		name++;
	if (name && *name && !(ret->name = strdup(name)))
		r = -ENOMEM;
	if (r == 0)
		r = ctr_take(cJSON_GetObjectItemCaseSensitive(doc, "Config"), "Image", &ret->image);
	cJSON_Delete(doc);
	return r;
}

/* The home of uid from etc/passwd, without its leading '/', into home. */
static int ctr_home(struct ctr_meta_ctx *m, long uid, char *home, size_t size)
{
	struct procfs_buf buf = {0};
	char *line, *save = NULL;
	int r = -ENOENT;

	if (procfs_read(m->root_fd, "etc/passwd", &buf, CTR_META_TEXT_MAX) < 0)
		return -ENOENT;
	for (line = strtok_r(buf.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7], *p = line;
		size_t n = 0;

		while (n < 7 && p) {
			f[n++] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		if (n == 7 && strtol(f[2], NULL, 10) == uid && f[2][0] && f[5][0] == '/') {
			snprintf(home, size, "%s", f[5] + 1);
			r = 0;
			break;
		}
	}
	procfs_buf_free(&buf);
	return r;
}

/* containers.json at path, parsed and kept while its size and mtime stay. */
static const cJSON *ctr_podman_list(struct ctr_meta_ctx *m, const char *path)
{
	struct ctr_meta_file *slot = NULL;
	struct stat st;

	if (fstatat(m->root_fd, path, &st, 0) < 0)
		return NULL;
	for (size_t i = 0; i < CTR_META_FILES && !slot; i++)
		if (m->files[i].path && strcmp(m->files[i].path, path) == 0)
			slot = &m->files[i];
	if (slot && slot->size == st.st_size && slot->mtime.tv_sec == st.st_mtim.tv_sec &&
	    slot->mtime.tv_nsec == st.st_mtim.tv_nsec) {
		slot->seen = m->tick;
		return slot->doc;
	}
	if (!slot) {
		size_t i = 0;

		while (i < CTR_META_FILES - 1 && m->files[i].path)
			i++;
		slot = &m->files[i]; /* a free one, or the last one again */
		free(slot->path);
		slot->path = strdup(path);
		if (!slot->path)
			return NULL;
	}
	cJSON_Delete(slot->doc);
	slot->doc = ctr_json(m->root_fd, path, CTR_META_LIST_MAX);
	slot->size = st.st_size;
	slot->mtime = st.st_mtim;
	slot->seen = m->tick;
	return slot->doc;
}

/* The containers.json at path that a look of this tick found, without a
 * stat again (NULL: none, or not looked at this tick). */
static const cJSON *ctr_podman_seen(const struct ctr_meta_ctx *m, const char *path)
{
	for (size_t i = 0; m->tick && i < CTR_META_FILES; i++)
		if (m->files[i].path && m->files[i].seen == m->tick &&
		    strcmp(m->files[i].path, path) == 0)
			return m->files[i].doc;
	return NULL;
}

/* The containers.json of the storage root (rootless: under home), from
 * the first driver that has one. */
static const cJSON *ctr_podman_find(struct ctr_meta_ctx *m, const char *home, bool rootless)
{
	const char *root =
	    rootless ? "/.local/share/containers/storage" : "var/lib/containers/storage";
	const size_t n = sizeof(ctr_drivers) / sizeof(ctr_drivers[0]);
	const cJSON *list = NULL;
	char path[PATH_MAX];

	for (size_t i = 0; i < n && !list; i++) {
		snprintf(path, sizeof(path), "%s%s/%s-containers/containers.json", home, root,
			 ctr_drivers[i]);
		list = ctr_podman_seen(m, path);
	}
	/* the storage root first: one look where Podman is not (not one a driver) */
	snprintf(path, sizeof(path), "%s%s", home, root);
	if (list || faccessat(m->root_fd, path, F_OK, 0) < 0)
		return list;
	for (size_t i = 0; i < n && !list; i++) {
		snprintf(path, sizeof(path), "%s%s/%s-containers/containers.json", home, root,
			 ctr_drivers[i]);
		list = ctr_podman_list(m, path);
	}
	return list;
}

/* Podman: "names"[0] and the "image-name" inside the JSON text of
 * "metadata", from the containers.json of the storage root (rootless:
 * under the user's home). */
static int ctr_podman(struct ctr_meta_ctx *m, const struct ctr_ref *ref, struct ctr_meta *ret)
{
	char home[PATH_MAX] = "";
	const cJSON *list, *c = NULL;
	const char *name, *text;
	cJSON *meta;
	int r;

	if (ref->uid >= 0 && ctr_home(m, ref->uid, home, sizeof(home)) < 0)
		return 0;
	list = ctr_podman_find(m, home, ref->uid >= 0);
	cJSON_ArrayForEach(c, list)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id"));

		if (id && strcmp(id, ref->id) == 0)
			break;
	}
	if (!c)
		return 0;
	name = cJSON_GetStringValue(
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "names"), 0));
	text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "metadata"));
	if (name && *name && !(ret->name = strdup(name)))
		return -ENOMEM;
	meta = text ? cJSON_Parse(text) : NULL;
	r = ctr_take(meta, "image-name", &ret->image);
	cJSON_Delete(meta);
	return r;
}

/* Podman without its storage readable: conmon, the parent of the
 * container's first process, was started with "-n NAME". */
static int ctr_conmon(struct ctr_meta_ctx *m, int64_t pid, struct ctr_meta *ret)
{
	struct procfs_buf buf = {0};
	char path[64], *p;
	int ppid, r = 0;

	snprintf(path, sizeof(path), "%lld/stat", (long long)pid);
	if (m->proc_fd < 0 || procfs_read(m->proc_fd, path, &buf, 4096) < 0)
		return 0;
	/* field 2 (comm) may hold anything: 3 state and 4 ppid follow its last ')' */
	p = strrchr(buf.data, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid <= 0) {
		procfs_buf_free(&buf);
		return 0;
	}
	procfs_buf_free(&buf);
	snprintf(path, sizeof(path), "%d/cmdline", ppid);
	if (procfs_read(m->proc_fd, path, &buf, 64u << 10) < 0)
		return 0;
	if (strstr(buf.data, "conmon")) {
		for (size_t i = 0; i < buf.len; i += strlen(buf.data + i) + 1) {
			if (strcmp(buf.data + i, "-n") == 0 && i + 3 < buf.len) {
				ret->name = strdup(buf.data + i + 3);
				r = ret->name ? 0 : -ENOMEM;
				break;
			}
		}
	}
	procfs_buf_free(&buf);
	return r;
}

/* "a/b/c" from up to three annotations (the missing ones left out). */
static int ctr_join(const cJSON *ann, const char *const keys[3], char **ret)
{
	char out[3 * 256] = "";
	size_t len = 0;

	for (size_t i = 0; i < 3; i++) {
		const char *v =
		    keys[i] ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ann, keys[i]))
			    : NULL;

		if (v && *v && len < sizeof(out))
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%.255s",
						len ? "/" : "", v);
	}
	if (!len || *ret)
		return 0;
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

/* An OCI config.json's annotations: Kubernetes' namespace/pod/container
 * (the pod's sandbox: namespace/pod), nerdctl's name, the image. */
static int ctr_oci(const cJSON *doc, bool crio, struct ctr_meta *ret)
{
	static const char *const cri[3] = {"io.kubernetes.cri.sandbox-namespace",
					   "io.kubernetes.cri.sandbox-name",
					   "io.kubernetes.cri.container-name"};
	static const char *const cri_o[3] = {"io.kubernetes.pod.namespace",
					     "io.kubernetes.pod.name",
					     "io.kubernetes.container.name"};
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(doc, "annotations");
	int r;

	r = ctr_join(ann, crio ? cri_o : cri, &ret->name);
	if (r == 0)
		r = ctr_take(ann, "nerdctl/name", &ret->name);
	if (r == 0)
		r = ctr_take(
		    ann, crio ? "io.kubernetes.cri-o.ImageName" : "io.kubernetes.cri.image-name",
		    &ret->image);
	return r;
}

/* containerd: the task's bundle in whichever namespace holds it. */
static int ctr_containerd(struct ctr_meta_ctx *m, const char *id, struct ctr_meta *ret)
{
	static const char base[] = "run/containerd/io.containerd.runtime.v2.task";
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int fd, r = 0;

	fd = m->root_fd >= 0 ? openat(m->root_fd, base, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd < 0)
		return 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	while ((d = readdir(dir))) {
		cJSON *doc;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s/config.json", base, d->d_name, id);
		doc = ctr_json(m->root_fd, path, CTR_META_JSON_MAX);
		if (!doc)
			continue;
		r = ctr_oci(doc, false, ret);
		cJSON_Delete(doc);
		break;
	}
	closedir(dir);
	return r;
}

static int ctr_crio(struct ctr_meta_ctx *m, const char *id, struct ctr_meta *ret)
{
	char path[PATH_MAX];
	cJSON *doc;
	int r;

	snprintf(path, sizeof(path),
		 "run/containers/storage/overlay-containers/%s/userdata/config.json", id);
	doc = ctr_json(m->root_fd, path, CTR_META_JSON_MAX);
	if (!doc)
		return 0;
	r = ctr_oci(doc, true, ret);
	cJSON_Delete(doc);
	return r;
}

/* systemd-machined: the machine's ROOT= as its image. */
static int ctr_machine(struct ctr_meta_ctx *m, const char *name, struct ctr_meta *ret)
{
	struct procfs_buf buf = {0};
	char path[PATH_MAX], *line, *save = NULL;
	int r = 0;

	ret->name = strdup(name);
	if (!ret->name)
		return -ENOMEM;
	snprintf(path, sizeof(path), "run/systemd/machines/%s", name);
	if (m->root_fd < 0 || strchr(name, '/') ||
	    procfs_read(m->root_fd, path, &buf, CTR_META_TEXT_MAX) < 0)
		return 0;
	for (line = strtok_r(buf.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "ROOT=", 5) == 0 && line[5]) {
			ret->image = strdup(line + 5);
			r = ret->image ? 0 : -ENOMEM;
			break;
		}
	}
	procfs_buf_free(&buf);
	return r;
}

int ctr_meta_read(struct ctr_meta_ctx *m, const struct ctr_ref *ref, int64_t pid,
		  struct ctr_meta *ret)
{
	int r = 0;

	*ret = (struct ctr_meta){0};
	switch (ref->engine) {
	case CTR_DOCKER:
		r = ctr_docker(m, ref->id, ret);
		break;
	case CTR_PODMAN:
		r = m->root_fd >= 0 ? ctr_podman(m, ref, ret) : 0;
		if (r == 0 && !ret->name && pid > 0)
			r = ctr_conmon(m, pid, ret);
		break;
	case CTR_CONTAINERD:
		r = ctr_containerd(m, ref->id, ret);
		break;
	case CTR_CRIO:
		r = ctr_crio(m, ref->id, ret);
		break;
	case CTR_NSPAWN:
		r = ctr_machine(m, ref->id, ret);
		break;
	case CTR_NENGINES:
		break;
	}
	if (r < 0)
		ctr_meta_done(ret);
	return r;
}
