/* The `containers` topic's finding: which cgroup directories are
 * containers and of which engine (Docker, Podman, containerd and
 * Kubernetes, CRI-O, systemd-nspawn), told from their names alone, and the
 * walk of a cgroup hierarchy that lists them and watches the directories
 * they may appear in (inotify). */
#ifndef SYSFEED_CTR_FIND_H
#define SYSFEED_CTR_FIND_H

#include <stdbool.h>
#include <stddef.h>

#define CTR_ID_MAX   64  /* an id is 64 lowercase hex digits */
#define CTR_NAME_MAX 256 /* a cgroup directory name */
/* Directories below the hierarchy's root that are looked into: deep enough
 * for rootless Podman (user.slice/user-1000.slice/user@1000.service/
 * user.slice/libpod-ID.scope) and Kubernetes pods (kubepods.slice/
 * kubepods-burstable.slice/kubepods-burstable-podUID.slice/...). */
#define CTR_MAX_DEPTH 6

enum ctr_engine {
	CTR_DOCKER,
	CTR_PODMAN,
	CTR_CONTAINERD,
	CTR_CRIO,
	CTR_NSPAWN,
	CTR_NENGINES,
};

/* A container as its cgroup directory names it. */
struct ctr_ref {
	enum ctr_engine engine;
	char id[CTR_ID_MAX + 1]; /* the engine's id; nspawn: the machine name */
	const char *rel;         /* its cgroup relative to the hierarchy's root */
	const char *parent;      /* the name of the directory it is in ("" at the root) */
	long uid;                /* rootless: the user@UID.service above it; else -1 */
};

/* "docker", "podman", "containerd", "cri-o", "nspawn". */
const char *ctr_engine_name(enum ctr_engine engine);

/* Whether the directory name (in the directory named parent, "" at the
 * root) is a container's cgroup; fills engine and id. Pure.
 *   docker-ID.scope                    Docker, systemd driver
 *   ID in docker/                      Docker, cgroupfs driver
 *   libpod-ID.scope, libpod-ID         Podman (systemd driver, cgroupfs under libpod_parent/)
 *   cri-containerd-ID.scope            containerd under Kubernetes, systemd driver
 *   crio-ID.scope                      CRI-O
 *   ID elsewhere                       containerd (cgroupfs: kubepods/.../podUID/ID, NAMESPACE/ID)
 *   machine-NAME.scope in machine.slice  systemd-nspawn (NAME unescaped: \x2d is '-')
 * libpod-conmon-ID.scope and other names are not. */
bool ctr_classify(const char *parent, const char *name, struct ctr_ref *ret);

/* Called for each container the walk finds; a negative return stops it. */
typedef int (*ctr_found_fn)(void *ctx, const struct ctr_ref *ref);

/* Walks the hierarchy at root_fd (an O_PATH or O_RDONLY directory fd) to
 * CTR_MAX_DEPTH, calling found for each container, looking only into the
 * directories containers are made in: slices, user@UID.service, docker/,
 * libpod_parent/, kubepods/ (its QoS classes and pods), machine/, and
 * containerd's namespaces at the root (default/, k8s.io/, moby/). With
 * inotify_fd >= 0 each directory looked into is watched for directories
 * made or removed in it (before it is listed, so that none is missed).
 * dents: a buffer of dents_size bytes for getdents64. Returns 0, what
 * found returned, or -errno when the root cannot be read. */
int ctr_walk(int root_fd, int inotify_fd, char *dents, size_t dents_size, ctr_found_fn found,
	     void *ctx);

#endif
