#pragma once

// External suites declared in a file, for a binary built without them: `serve`, `run` and
// `list` take --suites-config FILE, a JSON document:
//   {"suites": [
//     {"name": "payments-go", "namespace": "payments", "description": "the Go e2e tests",
//      "labels": {"team": "payments"},
//      "command": ["go", "test", "-json", "-count=1", "./e2e/..."],
//      "working_dir": "services/payments", "env": {"GOFLAGS": "-mod=mod"},
//      "format": "go-test-json", "tool": "go",
//      "list_command": ["go", "test", "-list", ".", "./e2e/..."],
//      "max_attempts": 2, "timeout": "10m", "concurrency": "queue",
//      "secret_params": ["*_TOKEN"]}]}
// `format` is go-test-json, junit (with "report_file") or tap; `tool` is go, pytest, node or
// other (the default). A relative working_dir is relative to the file's directory, which is
// also the working directory of a suite that names none.

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "handoff/suite.h"

namespace handoff::external {

// Parses a --suites-config document; `origin` names it in errors, `base_dir` is where a
// relative working_dir starts. kInvalid says which suite and key is wrong.
Result<std::vector<Suite>> ParseSuitesConfig(std::string_view json, std::string_view origin,
                                             const std::string& base_dir);

// Reads and parses the file `path`.
Result<std::vector<Suite>> LoadSuitesConfig(const std::string& path);

}  // namespace handoff::external
