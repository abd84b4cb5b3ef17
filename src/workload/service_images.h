#pragma once

// The Docker images of the ready-made services (include/handoff/workload_services.h), built
// from the host's files: what goes into each, its tag, and building it once per engine.

#include <optional>
#include <string>
#include <vector>

#include "workload/docker_client.h"
#include "workload/image_builder.h"

namespace handoff::workload {

// What an image of a service holds. Every host file keeps its host path in the image.
struct ServiceImage {
  std::string repository;  // "handoff/postgres"
  std::string executable;  // a host program, the image's entrypoint
  // More host programs and libraries, each with the shared libraries ldd says it needs.
  std::vector<std::string> programs;
  std::vector<ImageFile> files;  // anything else (host files, trees, /etc/passwd...)
  std::vector<std::string> env;  // "KEY=value"
};

// Debian's prometheus: the binary and its libraries.
ServiceImage PrometheusImage(const std::string& executable);

// Debian's PostgreSQL from `bin_dir` (/usr/lib/postgresql/15/bin): its programs, lib/ (but
// the JIT, which needs LLVM), its share directory, the time zones, a busybox shell for
// initdb, /tmp and an /etc/passwd with user postgres. Returns nullopt and sets *error when
// a directory cannot be read.
std::optional<ServiceImage> PostgresImage(const std::string& bin_dir, std::string* error);

// Debian's redis-server and redis-cli, with a busybox shell for the readiness probe.
ServiceImage RedisImage(const std::string& server, const std::string& cli);

// Returns "repository:hash", the hash over the image's recipe and the paths, sizes and
// modification times of its host files; or nullopt and sets *error when one is missing.
std::optional<std::string> ServiceImageTag(const ServiceImage& image, std::string* error);

// Makes sure the engine has the image: reuses it when its tag exists, else builds it. Builds
// of one tag on one engine are serialised within the process. After a build it removes,
// without force, the older images of the repository (label handoff.service=<repository>)
// but those this process asked for; an image a container uses stays, and a failure to
// remove one is ignored. Returns the tag.
DockerResult<std::string> EnsureServiceImage(DockerClient& client, const ServiceImage& image);

}  // namespace handoff::workload
