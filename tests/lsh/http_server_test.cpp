// `kvik lsh serve` endpoints, through a real HTTP client on loopback.
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "kvik/lsh_serve.h"
#include "lsh_test_util.h"
#include "redis_server.h"

namespace kvik::lsh {
namespace {

using testing::TempDir;
using testing::WriteFile;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(const std::string& redis_address = "") {
    WriteFile(dir_.File("log.tsv"),
              "nike running shoe\t100\nnike running shoes\t40\nadidas rain jacket\t90\nadidas rain "
              "jackets\t9\n");
    BuildOptions build;
    build.log_path = dir_.File("log.tsv");
    build.out_path = dir_.File("index.kvlsh");
    ASSERT_TRUE(BuildIndex(build).ok());
    ServeOptions options;
    options.index_path = build.out_path;
    options.port = 0;
    options.redis_address = redis_address;
    auto server = LshHttpServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto port = server_->Bind();
    ASSERT_TRUE(port.ok());
    thread_ = std::thread([this] { server_->Run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  TempDir dir_;
  std::unique_ptr<LshHttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, LookupMapsAVariantToItsCanonical) {
  Start();
  auto res = client_->Get("/lookup?q=Running%20Shoes%20Nike");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"hit\":true"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("\"canonical\":\"nike running shoe\""), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("\"cached\":false"), std::string::npos) << res->body;
  EXPECT_EQ(res->get_header_value("X-Kvik-Semantic-Hit"), "1");
}

TEST_F(HttpServerTest, LookupMissesUnrelatedQueriesAndRejectsMissingQ) {
  Start();
  auto res = client_->Get("/lookup?q=garden%20hose");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("\"hit\":false"), std::string::npos);
  EXPECT_EQ(client_->Get("/lookup")->status, 400);
}

TEST_F(HttpServerTest, CachedResultIsServedToEveryVariant) {
  Start();
  ASSERT_EQ(
      client_->Put("/cache/nike%20running%20shoe", "[\"p1\",\"p2\"]", "application/json")->status,
      200);
  auto res = client_->Get("/lookup?q=nike%20running%20shoes");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("\"cached\":true"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("\"result\":\"[\\\"p1\\\",\\\"p2\\\"]\""), std::string::npos)
      << res->body;
  EXPECT_EQ(client_->Get("/cache/nike%20running%20shoe")->body, "[\"p1\",\"p2\"]");
}

TEST_F(HttpServerTest, DeleteInvalidatesByKeyAndByPrefix) {
  Start();
  client_->Put("/cache/nike%20running%20shoe", "a", "text/plain");
  client_->Put("/cache/nike%20trail%20shoe", "b", "text/plain");
  client_->Put("/cache/adidas%20rain%20jacket", "c", "text/plain");
  EXPECT_EQ(client_->Delete("/cache/adidas%20rain%20jacket")->body, "{\"erased\":1}\n");
  EXPECT_EQ(client_->Get("/cache/adidas%20rain%20jacket")->status, 404);
  EXPECT_EQ(client_->Delete("/cache?prefix=nike%20")->body, "{\"erased\":2}\n");
  EXPECT_EQ(client_->Get("/cache/nike%20trail%20shoe")->status, 404);
  EXPECT_EQ(client_->Delete("/cache")->status, 400);
}

TEST_F(HttpServerTest, MetricsCountLookupsAndHits) {
  Start();
  client_->Get("/lookup?q=nike%20running%20shoes");
  client_->Get("/lookup?q=garden%20hose");
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("kvik_lsh_lookups_total 2"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("kvik_lsh_lookup_hits_total 1"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("kvik_lsh_index_clusters 2"), std::string::npos) << res->body;
}

TEST_F(HttpServerTest, ReloadSwapsInARebuiltIndexAndKeepsTheOldOneOnError) {
  Start();
  WriteFile(dir_.File("log2.tsv"), "garden hose reel\t10\ngarden hose reels\t3\n");
  BuildOptions rebuild;
  rebuild.log_path = dir_.File("log2.tsv");
  rebuild.out_path = dir_.File("index.kvlsh");  // same path: the nightly rebuild
  ASSERT_TRUE(BuildIndex(rebuild).ok());
  EXPECT_EQ(client_->Post("/reload", "", "text/plain")->status, 200);
  EXPECT_NE(client_->Get("/lookup?q=garden%20hose%20reels")->body.find("\"hit\":true"),
            std::string::npos);
  // Replaced by rename, as `kvik lsh build` does: overwriting a mapped file in place would pull
  // the pages from under the live index (docs/semantic-cache.md, "Deploying a new index").
  WriteFile(dir_.File("broken.kvlsh"), "not an index");
  std::filesystem::rename(dir_.File("broken.kvlsh"), dir_.File("index.kvlsh"));
  auto res = client_->Post("/reload", "", "text/plain");
  EXPECT_EQ(res->status, 500);
  EXPECT_NE(res->body.find("kept the previous index"), std::string::npos);
  EXPECT_NE(client_->Get("/lookup?q=garden%20hose%20reels")->body.find("\"hit\":true"),
            std::string::npos);
}

TEST_F(HttpServerTest, RedisBackedServerSharesResults) {
  testing::RedisServer redis;
  ASSERT_EQ(redis.error(), "");
  Start(redis.address());
  ASSERT_EQ(client_->Put("/cache/nike%20running%20shoe", "shared", "text/plain")->status, 200);
  auto direct = MakeRedisStore({.address = redis.address()});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(*(*direct)->Get("nike running shoe"), "shared");
}

TEST(HttpServer, MissingIndexIsAnErrorAtStartUp) {
  ServeOptions options;
  options.index_path = "/nonexistent/index.kvlsh";
  EXPECT_EQ(LshHttpServer::Create(options).status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace kvik::lsh
