#include "blackbox/service_queries.h"

#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "http_client/http_client.h"

namespace handoff::testing {
namespace {

// Splits "host:port" into an HTTP client of it.
http::Client ClientOf(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  return http::Client(endpoint.substr(0, colon),
                      static_cast<std::uint16_t>(std::stoi(endpoint.substr(colon + 1))));
}

}  // namespace

std::string QueryFirstValue(workload::Runnable& prometheus, const std::string& promql,
                            std::string* answer) {
  http::Client client = ClientOf(prometheus.Endpoint("http"));
  std::string encoded;
  for (const char c : promql) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      encoded += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      encoded += buf;
    }
  }
  const http::ClientResult got = client.Request("GET", "/api/v1/query?query=" + encoded);
  *answer = got.ok() ? got.body : got.error;
  if (!got.ok() || got.status != 200) return "";
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(got.body, ec);
  if (ec) return "";
  const boost::json::array& result = json.at("data").at("result").as_array();
  if (result.empty()) return "";
  return std::string(result[0].at("value").as_array()[1].as_string());
}

workload::ExecResult CreateOrders(workload::Runnable& db) {
  return db.Exec({std::string(kPostgresBin) + "/psql", "-v", "ON_ERROR_STOP=1", "-At", "-c",
                  "CREATE TABLE orders (amount int); INSERT INTO orders VALUES (20), (22);"});
}

ProcessResult SumOrders(const std::string& url, const std::map<std::string, std::string>& env) {
  return RunProcess({std::string(kPostgresBin) + "/psql", url, "-At", "-c",
                     "SELECT sum(amount), current_user, current_database() FROM orders"},
                    env, std::chrono::seconds(30));
}

}  // namespace handoff::testing
