// Tests that crash and hang, to show what handoff reports about them: the stack of the
// thread that crashed, and the stacks of every thread of a test killed at its timeout
// (docs/writing-tests.md, "Crashes and hangs"). Both fail on purpose.
//
//   diagnose run --timeout 1s --grace 200ms

#include <handoff/handoff.h>

#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Order {
  std::string id;
  int total_cents = 0;
};

// Returns the order with `id`, or nullptr.
const Order* FindOrder(const std::vector<Order>& orders, std::string_view id) {
  for (const Order& order : orders) {
    if (order.id == id) return &order;
  }
  return nullptr;
}

std::mutex inventory;

}  // namespace

HANDOFF_TEST(Diagnose, MissingOrder) {
  const std::vector<Order> orders = {{"o-1", 1290}};
  const Order* order = FindOrder(orders, "o-2");
  t.Logf("total: {}", order->total_cents);  // o-2 is not there: a null dereference
}

HANDOFF_TEST(Diagnose, Deadlock) {
  const std::lock_guard held(inventory);
  // The worker needs the lock this test holds until the worker is done: neither ends.
  std::thread worker([] { const std::lock_guard again(inventory); });
  worker.join();
}
