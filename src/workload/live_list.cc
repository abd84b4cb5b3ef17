// The workload API's list of started runnables, registered with the runner so that a held
// test (hold on failure, issue 21) shows where its services are.

#include <mutex>
#include <vector>

#include "runner/live_runnables.h"
#include "workload/internal.h"

namespace handoff::workload {
namespace {

struct Started {
  std::weak_ptr<Runnable> runnable;
  std::string container_id;
  int pid = 0;
};

std::mutex g_mu;
std::vector<Started>* g_started = nullptr;  // never destroyed: runnables end after statics

std::vector<HeldRunnable> ListRunning() {
  std::vector<std::pair<std::shared_ptr<Runnable>, Started>> alive;
  {
    std::lock_guard lock(g_mu);
    if (g_started == nullptr) return {};
    std::erase_if(*g_started, [](const Started& s) { return s.runnable.expired(); });
    for (const Started& s : *g_started) {
      if (auto r = s.runnable.lock()) alive.emplace_back(std::move(r), s);
    }
  }
  // Asked outside the lock: a runnable's own lock may be taken by a thread that starts one.
  std::vector<HeldRunnable> out;
  for (const auto& [r, s] : alive) {
    if (!r->IsRunning()) continue;
    HeldRunnable& held = out.emplace_back();
    held.name = r->Name();
    held.dir = r->Dir();
    held.container_id = s.container_id;
    held.pid = s.pid;
    for (const std::string& port : r->PortNames()) held.endpoints.emplace_back(port, r->Endpoint(port));
  }
  return out;
}

}  // namespace

void NoteStarted(const std::shared_ptr<Runnable>& runnable, int pid, std::string container_id) {
  std::lock_guard lock(g_mu);
  if (g_started == nullptr) {
    g_started = new std::vector<Started>();
    internal::SetLiveRunnablesSource(&ListRunning);
  }
  // Runnables that ended are dropped as others start: the list stays as long as what runs.
  std::erase_if(*g_started, [](const Started& s) { return s.runnable.expired(); });
  g_started->push_back(Started{runnable, std::move(container_id), pid});
}

}  // namespace handoff::workload
