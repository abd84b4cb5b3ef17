// Trace correlation: every attempt of a test is a trace of its own. t.TraceParent() is the
// W3C traceparent header of the current span; send it with the requests a test makes, so
// the spans of the services under test join the test's trace. With --otlp-endpoint, the
// attempts, their subtests and t.StartSpan spans are exported to an OpenTelemetry
// collector (OTLP/HTTP, JSON).
//
//   tracing run -v                                            print the trace context
//   tracing run --otlp-endpoint http://localhost:4318         ... and export the spans

#include <handoff/handoff.h>
#include <handoff/workload.h>

#include <string>

HANDOFF_TEST(Checkout, PlacesOrder) {
  t.Logf("test:    {}", t.TraceParent());
  {
    handoff::Span span = t.StartSpan("create cart");
    span.SetAttribute("cart.items", "3");
    // Inside a span, the traceparent names the span: a request made here is its child.
    t.Logf("in span: {}", t.TraceParent());
  }
  t.Run("pay", [](handoff::T& t) {
    t.Logf("subtest: {}", t.TraceParent());
  });
  // Code that is handed only a Context finds the test's traceparent on it.
  const handoff::Context& ctx = t.Context();
  t.Logf("context: {}", ctx.ValueOr(handoff::kTraceParent, std::string()));
}

HANDOFF_TEST(Checkout, ServiceJoinsTheTrace) {
  auto env = handoff::workload::Environment::NewProcess(t);
  handoff::workload::StartOptions options;
  options.executable = "sleep";
  options.args = {"60"};
  options.trace_context = true;  // TRACEPARENT in the runnable's environment
  auto service = env->Runnable("service").Init(options);
  handoff::workload::ExecResult got = service->Exec({"sh", "-c", "printf %s \"$TRACEPARENT\""});
  t.Logf("the service sees TRACEPARENT={}", got.out);
  if (got.out != t.TraceParent()) t.Errorf("TRACEPARENT = {:?}, want {:?}", got.out, t.TraceParent());
}
