#include "engine/trace_links.h"

#include <gtest/gtest.h>

namespace handoff {
namespace {

const AttemptFacts kFacts{"4bf92f3577b34da6a3ce929d0e0e4736", "Checkout", "PlacesOrder/pay card",
                          1'764'900'000'123'000'000, 1'764'900'002'500'400'000};

TEST(LinkTemplateTest, ReplacesEachPlaceholderUrlEncoded) {
  auto t = LinkTemplate::Parse(
      "--traces-link-template",
      "https://jaeger.example.com/trace/{trace_id}?s={suite}&t={test}&from={start}&to={end}"
      "&a={start_ms}&b={end_ms}");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->Render(kFacts),
            "https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736?s=Checkout"
            "&t=PlacesOrder%2Fpay%20card&from=2025-12-05T02:00:00.123Z"
            "&to=2025-12-05T02:00:02.500Z&a=1764900000123&b=1764900002501");
}

TEST(LinkTemplateTest, KeepsBracesThatAreNotPlaceholders) {
  // Grafana Explore's panes are JSON in the URL.
  auto t = LinkTemplate::Parse(
      "--traces-link-template",
      R"(https://grafana.example.com/explore?panes={"a":{"queries":[{"query":"{trace_id}"}]}})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->Render(kFacts),
            R"(https://grafana.example.com/explore?panes={"a":{"queries":[{"query":"4bf92f3577b34da6a3ce929d0e0e4736"}]}})");
}

TEST(LinkTemplateTest, AnAttemptWithoutTraceIdHasNoLink) {
  auto t = LinkTemplate::Parse("--logs-link-template", "http://kibana:5601/app/discover#/?q={trace_id}");
  ASSERT_TRUE(t.ok());
  AttemptFacts none = kFacts;
  none.trace_id.clear();
  EXPECT_EQ(t->Render(none), "");
  EXPECT_EQ(LinkTemplate().Render(kFacts), "");
}

TEST(LinkTemplateTest, RefusesUnknownPlaceholdersAndWhatIsNotAnHttpUrl) {
  auto unknown = LinkTemplate::Parse("--traces-link-template", "https://x/{traceid}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("--traces-link-template: unknown placeholder {traceid}"),
            std::string::npos)
      << unknown.error().message;
  auto relative = LinkTemplate::Parse("--logs-link-template", "/explore?trace={trace_id}");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("--logs-link-template"), std::string::npos);
  auto scheme = LinkTemplate::Parse("--logs-link-template", "javascript:alert({trace_id})");
  EXPECT_FALSE(scheme.ok());
  EXPECT_FALSE(LinkTemplate::Parse("--logs-link-template", "{suite}://x").ok());
}

}  // namespace
}  // namespace handoff
