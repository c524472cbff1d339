/* The `containers` topic's names and images, from the engines' own
 * metadata files, read-only and never through an engine's socket: Docker's
 * var/lib/docker/containers/ID/config.v2.json, Podman's containers.json
 * under its storage root (rootful, and rootless ones under the user's home
 * from etc/passwd) or else the -n NAME its conmon was started with,
 * containerd's and CRI-O's OCI config.json annotations (Kubernetes pods),
 * systemd-machined's run/systemd/machines/NAME. Files are read under the
 * proc root's parent, so that fixture trees hold them too. */
#ifndef SYSFEED_CTR_META_H
#define SYSFEED_CTR_META_H

#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ctr_find.h"

/* Podman's containers.json files kept parsed while they do not change. */
#define CTR_META_FILES 8

struct ctr_meta_file {
	char *path;
	struct timespec mtime;
	int64_t size;
	cJSON *doc;
	uint64_t seen; /* the tick it was last found as it is (ctr_meta_ctx.tick) */
};

struct ctr_meta_ctx {
	int root_fd; /* the proc root's parent (O_PATH), -1: none */
	int proc_fd;
	/* the caller's tick, 0 outside ticks: within a tick, a containers.json
	 * found once is not looked at again (the looks of many unnamed
	 * containers in one tick cost one stat) */
	uint64_t tick;
	struct ctr_meta_file files[CTR_META_FILES];
};

/* What is known of a container: NULL where nothing says. */
struct ctr_meta {
	char *name;
	char *image;
};

/* Opens the proc root's parent. Returns 0 or -errno (then nothing is
 * read but conmon's arguments). */
int ctr_meta_init(struct ctr_meta_ctx *m, int proc_fd);
void ctr_meta_fini(struct ctr_meta_ctx *m);

/* The name and image of ref (pid: a process in it, or -1). Returns 0 or
 * -ENOMEM; what cannot be read stays NULL. */
int ctr_meta_read(struct ctr_meta_ctx *m, const struct ctr_ref *ref, int64_t pid,
		  struct ctr_meta *ret);
void ctr_meta_done(struct ctr_meta *meta);

#endif
