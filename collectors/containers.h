/* The `containers` topic: Docker, Podman (rootful and rootless),
 * containerd and Kubernetes pods, CRI-O and systemd-nspawn machines found
 * from the cgroup tree on v2, v1 and hybrid hosts, named from the
 * engines' metadata files (never their sockets), with CPU, memory and its
 * limit, tasks, I/O, network bytes of their network namespace and OOM
 * kills each tick; containers that start or stop are pushed at once, from
 * inotify on the cgroup directories they appear in. */
#ifndef SYSFEED_CONTAINERS_H
#define SYSFEED_CONTAINERS_H

#include "collector.h"
#include "settings.h"

/* The keys of the `containers` topic. */
struct containers_settings {
	unsigned top_n; /* containers with Prometheus families: top by CPU and by memory */
};

/* A busy container's files are read as in cgroup.h (CGROUP_STEADY_TICKS);
 * one that used no CPU time and moved no byte between two readings is
 * idle (CGROUP_IDLE_TICKS). */
/* A busy container's net/dev is read each tick while its bytes move, then
 * after 2, 4, up to this many ticks while they stand: traffic that starts
 * after a quiet while shows within this many seconds. */
#define CTR_NET_STEADY_TICKS 8
/* A container whose name is not in its engine's files is looked for
 * again after 2 ticks, then 8, 32, 128, up to this many, each container at
 * a phase of its own (a name that shows late is found within about 4
 * times the time it took to show). */
#define CTR_NAME_TICKS 512
/* Those looks happen on ticks that are multiples of this alone (of the
 * step while it is shorter). */
#define CTR_NAME_GRID 16
/* At most this many containers are followed. */
#define CONTAINERS_MAX 4096

extern const struct collector containers_collector;

#endif
