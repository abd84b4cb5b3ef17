// Ready-made services (include/handoff/workload_services.h): command lines, probes and
// configuration that work unchanged in both environments, since a Docker image of a
// service holds the host's files at their host paths and the environment's directory is
// mounted at its host path.

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>

#include "handoff/workload_services.h"
#include "workload/internal.h"
#include "workload/service_images.h"

namespace handoff::workload {
namespace {

namespace fs = std::filesystem;

// A runnable that does something before it starts (build its image, write its
// configuration) and is otherwise the runnable it wraps.
class ServiceRunnable : public Runnable {
 public:
  ServiceRunnable(std::shared_ptr<Runnable> inner, std::function<Status()> prepare)
      : inner_(std::move(inner)), prepare_(std::move(prepare)) {}

  const std::string& Name() const override { return inner_->Name(); }
  const std::string& Dir() const override { return inner_->Dir(); }
  std::vector<std::string> PortNames() const override { return inner_->PortNames(); }
  const StartOptions& Options() const override { return inner_->Options(); }
  int InternalPort(std::string_view port) const override { return inner_->InternalPort(port); }
  std::string InternalEndpoint(std::string_view port) const override {
    return inner_->InternalEndpoint(port);
  }
  std::string Endpoint(std::string_view port) const override { return inner_->Endpoint(port); }
  std::vector<std::string> LastOutput() const override { return inner_->LastOutput(); }

  Status Start() override {
    if (Status st = prepare_(); !st) {
      return Status::Error(fmt::format("{}: {}", Name(), st.message()));
    }
    return inner_->Start();
  }
  Status WaitReady() override { return inner_->WaitReady(); }
  Status Stop(std::chrono::milliseconds timeout) override { return inner_->Stop(timeout); }
  Status Kill() override { return inner_->Kill(); }
  bool IsRunning() const override { return inner_->IsRunning(); }
  ExecResult Exec(const std::vector<std::string>& argv, std::optional<std::string> input) override {
    return inner_->Exec(argv, std::move(input));
  }

 private:
  std::shared_ptr<Runnable> inner_;
  std::function<Status()> prepare_;
};

// Quotes `text` for a POSIX shell.
std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Quotes `text` as a YAML single-quoted scalar.
std::string YamlQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Percent-encodes `text` for a URL's user, password or path.
std::string UrlEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

bool IsIdentifier(std::string_view text) {
  if (text.empty() || text.size() > 63 || std::isdigit(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  for (const char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Writes `content` to `path`, making its directory first.
Status WriteFile(const fs::path& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Status::Error(fmt::format("cannot write {}", path.string()));
  return {};
}

// What a service needs from its environment: in Docker, the image (its tag for
// StartOptions::image now, and a way to make sure the engine has it at Start).
struct Placement {
  std::string image_tag;           // Docker only
  std::function<Status()> ensure;  // builds the image if needed; ok elsewhere
};

// Works out the image of `recipe` for a Docker environment; elsewhere checks at Start that
// the `programs` the service runs are installed. A recipe that cannot be made (a missing
// package) becomes an error of Start, where errors are reported.
Placement Place(Environment& env, std::vector<std::string> programs, std::string package,
                std::function<std::optional<ServiceImage>(std::string*)> recipe) {
  if (env.kind() != Environment::Kind::kDocker) {
    return {"", [programs = std::move(programs), package = std::move(package)] {
              for (const std::string& program : programs) {
                if (::access(program.c_str(), X_OK) != 0) {
                  return Status::Error(
                      fmt::format("{} is missing (Debian's package {})", program, package));
                }
              }
              return Status();
            }};
  }
  DockerClient* client = DockerEngineOf(env);
  std::string error;
  std::optional<ServiceImage> image = recipe(&error);
  std::optional<std::string> tag;
  if (image) tag = ServiceImageTag(*image, &error);
  if (client == nullptr) error = "the environment has no Docker engine";
  if (!image || !tag || client == nullptr) {
    return {"", [error] { return Status::Error("cannot make its image: " + error); }};
  }
  return {*tag, [client, image = std::move(*image)] {
            const DockerResult<std::string> built = EnsureServiceImage(*client, image);
            if (!built.ok()) return Status::Error(built.error().ToString());
            return Status();
          }};
}

// The value of `key` in a runnable's environment ("" when unset).
std::string EnvValue(const Runnable& r, const std::string& key) {
  const auto& env = r.Options().env;
  const auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

std::string PostgresUrlTo(const Runnable& r, const std::string& endpoint) {
  if (endpoint.empty()) return "";
  const std::string password = EnvValue(r, "PGPASSWORD");
  return fmt::format("postgresql://{}{}@{}/{}", UrlEscape(EnvValue(r, "PGUSER")),
                     password.empty() ? "" : ":" + UrlEscape(password), endpoint,
                     UrlEscape(EnvValue(r, "PGDATABASE")));
}

// The user postgres runs as: it refuses root.
std::string PostgresUser(Environment::Kind kind) {
  // The image's /etc/passwd has it, and the Docker environment lets any user write the
  // runnable's directory.
  if (kind == Environment::Kind::kDocker) return "postgres";
  if (::geteuid() != 0) return "";  // the test's own user
  return ::getpwnam("postgres") != nullptr ? "postgres" : "nobody";
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Prometheus

std::shared_ptr<Runnable> NewPrometheus(Environment& env, std::string name,
                                        PrometheusOptions options) {
  FutureRunnable future = env.Runnable(std::move(name)).WithPorts({{"http", 0}}).Future();
  const fs::path dir = future.Dir();
  const fs::path config = dir / "prometheus.yml";

  const std::chrono::milliseconds interval =
      std::max(options.scrape_interval, std::chrono::milliseconds(1));
  // A scrape may not take longer than the interval between scrapes.
  const std::chrono::milliseconds timeout = std::min(interval, std::chrono::milliseconds(10'000));
  std::string yaml = fmt::format(
      "global:\n  scrape_interval: {}ms\n  scrape_timeout: {}ms\n  evaluation_interval: {}ms\n"
      "scrape_configs:\n",
      interval.count(), timeout.count(), interval.count());
  if (options.scrape_self) {
    yaml += fmt::format("  - job_name: prometheus\n    static_configs:\n      - targets: [{}]\n",
                        YamlQuote(future.InternalEndpoint("http")));
  }
  if (!options.scrape_targets.empty()) {
    std::string targets;
    for (const std::string& target : options.scrape_targets) {
      targets += (targets.empty() ? "" : ", ") + YamlQuote(target);
    }
    yaml +=
        fmt::format("  - job_name: targets\n    static_configs:\n      - targets: [{}]\n", targets);
  }

  Placement placement =
      Place(env, {options.executable}, "prometheus",
            [executable = options.executable](std::string*) -> std::optional<ServiceImage> {
              return PrometheusImage(executable);
            });
  StartOptions start;
  start.image = placement.image_tag;
  start.executable = options.executable;
  start.args = {"--config.file=" + config.string(),
                "--storage.tsdb.path=" + (dir / "data").string(),
                // Every address, so other containers reach it too.
                "--web.listen-address=:" + future.InternalPortText("http")};
  start.readiness = Probe::Http("http", "/-/ready");
  start.wait_backoff = options.wait_backoff;
  start.metrics_port = "http";
  start.args.insert(start.args.end(), options.extra_args.begin(), options.extra_args.end());
  std::shared_ptr<Runnable> inner = future.Init(std::move(start));
  return std::make_shared<ServiceRunnable>(std::move(inner),
                                           [ensure = std::move(placement.ensure), config, yaml] {
                                             if (Status st = ensure(); !st) return st;
                                             return WriteFile(config, yaml);
                                           });
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

std::shared_ptr<Runnable> NewPostgres(Environment& env, std::string name, PostgresOptions options) {
  FutureRunnable future = env.Runnable(std::move(name)).WithPorts({{"postgres", 0}}).Future();
  const std::string port = future.InternalPortText("postgres");
  const std::string& dir = future.Dir();
  const std::string bin = fs::path(options.bin_dir).lexically_normal().string();

  Status invalid;
  if (!IsIdentifier(options.user)) {
    invalid = Status::Error(fmt::format("user \"{}\": use letters, digits and _", options.user));
  } else if (!IsIdentifier(options.database)) {
    invalid =
        Status::Error(fmt::format("database \"{}\": use letters, digits and _", options.database));
  }

  // A Unix socket path has room for 107 bytes; a deep directory gets TCP alone.
  const std::string socket_dir =
      dir.size() + std::string_view("/.s.PGSQL.65535").size() < 108 ? dir : std::string();
  const bool with_password = !options.password.empty();
  std::string auth = with_password
                         ? "--auth-local=trust --auth-host=scram-sha-256 --pwfile=\"$pwfile\""
                         : "--auth=trust";
  // initdb runs on first start only, into a directory renamed when it is complete, so a
  // restart reuses the data and an interrupted initdb is redone.
  std::string script = fmt::format(
      "set -e\n"
      "bin={bin}\n"
      "data={data}\n"
      "pwfile={pwfile}\n"
      "if [ ! -s \"$data/PG_VERSION\" ]; then\n"
      "  rm -rf \"$data.init\"\n"
      "{write_password}"
      "  \"$bin/initdb\" -D \"$data.init\" -U {user} {auth} --locale=C --encoding=UTF8 --no-sync\n"
      "  rm -f \"$pwfile\"\n"
      // initdb lets in local connections only; other containers (and the test, through
      // Docker's port forwarding) come from elsewhere.
      "  echo 'host all all all {host_auth}' >> \"$data.init/pg_hba.conf\"\n",
      fmt::arg("bin", ShellQuote(bin)), fmt::arg("data", ShellQuote(dir + "/data")),
      fmt::arg("pwfile", ShellQuote(dir + "/pwfile")),
      fmt::arg(
          "write_password",
          with_password ? "  (umask 077; printf '%s\\n' \"$PGPASSWORD\" > \"$pwfile\")\n" : ""),
      fmt::arg("user", options.user), fmt::arg("auth", auth),
      fmt::arg("host_auth", with_password ? "scram-sha-256" : "trust"));
  if (options.database != "postgres") {
    // Single-user mode exits 0 after a failed statement: its output says.
    script += fmt::format(
        "  out=$(echo 'CREATE DATABASE \"{}\"' | \"$bin/postgres\" --single -D \"$data.init\" "
        "postgres 2>&1) || {{ printf '%s\\n' \"$out\" >&2; exit 1; }}\n"
        "  case \"$out\" in *ERROR:*) printf '%s\\n' \"$out\" >&2; exit 1;; esac\n",
        options.database);
  }
  script += fmt::format(
      "  mv \"$data.init\" \"$data\"\n"
      "fi\n"
      "exec \"$bin/postgres\" -D \"$data\" -p {} -k {} -c listen_addresses='*' -c jit=off",
      port, ShellQuote(socket_dir));
  for (const std::string& arg : options.extra_args) script += " " + ShellQuote(arg);
  script += "\n";

  std::map<std::string, std::string> variables = {
      // libpq's defaults, for Exec(psql) and the probe; initdb and postgres ignore them.
      {"PGHOST", "127.0.0.1"},
      {"PGPORT", port},
      {"PGUSER", options.user},
      {"PGDATABASE", options.database},
      // One zone in both environments (an image has no /etc/localtime).
      {"TZ", "UTC"},
  };
  if (with_password) variables["PGPASSWORD"] = options.password;

  Placement placement =
      Place(env, {bin + "/postgres", bin + "/initdb", bin + "/pg_isready"}, "postgresql-15",
            [bin](std::string* error) { return PostgresImage(bin, error); });
  StartOptions start;
  start.image = placement.image_tag;
  start.executable = "/bin/sh";
  start.args = {"-c", script};
  start.env = std::move(variables);
  start.user = PostgresUser(env.kind());
  // pg_isready answers 0 only once the server accepts connections (not while it starts or
  // recovers); the database was made before the server listened.
  start.readiness = Probe::Command({bin + "/pg_isready", "-h", "127.0.0.1", "-p", port, "-U",
                                    options.user, "-d", options.database, "-t", "2"});
  start.wait_backoff = options.wait_backoff;
  std::shared_ptr<Runnable> inner = future.Init(std::move(start));
  return std::make_shared<ServiceRunnable>(std::move(inner),
                                           [invalid, ensure = std::move(placement.ensure)] {
                                             if (!invalid) return invalid;
                                             return ensure();
                                           });
}

std::string PostgresUrl(const Runnable& postgres) {
  return PostgresUrlTo(postgres, postgres.Endpoint("postgres"));
}

std::string PostgresInternalUrl(const Runnable& postgres) {
  return PostgresUrlTo(postgres, postgres.InternalEndpoint("postgres"));
}

// ---------------------------------------------------------------------------------------
// Redis

std::shared_ptr<Runnable> NewRedis(Environment& env, std::string name, RedisOptions options) {
  FutureRunnable future = env.Runnable(std::move(name)).WithPorts({{"redis", 0}}).Future();
  const std::string port = future.InternalPortText("redis");
  Placement placement = Place(env, {options.server, options.cli}, "redis-server and redis-tools",
                              [server = options.server, cli = options.cli](std::string*) {
                                return std::optional<ServiceImage>(RedisImage(server, cli));
                              });
  StartOptions start;
  start.image = placement.image_tag;
  start.executable = options.server;
  start.args = {"--port", port, "--bind", "0.0.0.0", "--protected-mode", "no",
                // A test's cache starts empty and leaves nothing behind.
                "--save", "", "--appendonly", "no", "--dir", future.Dir()};
  // redis-cli exits 0 whatever the answer, and a Redis loading its data answers
  // "LOADING ...": only PONG is ready.
  start.readiness = Probe::Command(
      {"/bin/sh", "-c",
       fmt::format("answer=$({} -h 127.0.0.1 -p {} ping 2>&1); [ \"$answer\" = PONG ] || "
                   "{{ echo \"$answer\"; exit 1; }}",
                   ShellQuote(options.cli), port)});
  start.wait_backoff = options.wait_backoff;
  start.args.insert(start.args.end(), options.extra_args.begin(), options.extra_args.end());
  std::shared_ptr<Runnable> inner = future.Init(std::move(start));
  return std::make_shared<ServiceRunnable>(std::move(inner), std::move(placement.ensure));
}

}  // namespace handoff::workload
