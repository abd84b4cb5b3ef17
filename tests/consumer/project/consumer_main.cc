#include <handoff/handoff.h>

int main(int argc, char** argv) {
  handoff::Suite suite;
  suite.name = "FromMain";
  suite.tests.push_back({"Added", [](handoff::T& t) { t.Log("added by an option"); }});
  return handoff::Main(argc, argv, handoff::WithSuites({suite}));
}
