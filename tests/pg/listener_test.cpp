// pg::Listener against a real PostgreSQL: notifications arrive with their channel and payload, and
// after the listener's connection is killed it reconnects and catches up, so a change committed
// while it was away (whose NOTIFY nobody heard) still reaches its owner. Also Snapshot<T>'s promise
// to readers: a value taken stays whole while newer ones are stored.
//
// Runs in an empty throwaway database (tests/support/throwaway_database.hpp) and fails loudly
// without tools/test's environment.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/snapshot.hpp"
#include "pg/connection.hpp"
#include "pg/listener.hpp"
#include "support/throwaway_database.hpp"

namespace {

using namespace std::chrono_literals;
using wangge::pg::Connection;
using wangge::pg::Listener;
using wangge::pg::Notification;

using wangge::test::ThrowawayDatabase;

// Polls `done` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// What the listener's handlers saw, read from the test's thread.
struct Seen {
  std::mutex mutex;
  std::vector<Notification> received;
  std::vector<long long> catch_up_counts;    // the rows in `items` at each catch-up
  std::vector<long long> catch_up_backends;  // the listener's backend pid at each catch-up

  std::size_t catch_ups() {
    std::lock_guard lock(mutex);
    return catch_up_counts.size();
  }
  std::size_t notifications() {
    std::lock_guard lock(mutex);
    return received.size();
  }
};

Listener::Handlers recording(Seen& seen) {
  Listener::Handlers h;
  h.catch_up = [&seen](Connection& conn) {
    const long long rows = conn.exec("test.count", "SELECT count(*) FROM items").integer(0, 0);
    const long long pid = conn.exec("test.pid", "SELECT pg_backend_pid()").integer(0, 0);
    std::lock_guard lock(seen.mutex);
    seen.catch_up_counts.push_back(rows);
    seen.catch_up_backends.push_back(pid);
  };
  h.notified = [&seen](Connection&, std::vector<Notification>& received) {
    for (const auto& n : received)
      if (n.payload == "throw") throw std::runtime_error("a handler failed on purpose");
    std::lock_guard lock(seen.mutex);
    seen.received.insert(seen.received.end(), received.begin(), received.end());
  };
  return h;
}

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer = std::make_unique<Connection>(db.url(), 10000);
    writer->exec("test.table", "CREATE TABLE items (id serial PRIMARY KEY)");
  }
  Listener::Options options() const {
    Listener::Options o;
    o.name = "test listener";
    o.channels = {"test_one", "test_two"};
    o.statement_timeout_ms = 10000;
    o.poll = 50ms;
    o.retry_first = 300ms;
    o.retry_max = 600ms;
    return o;
  }

  ThrowawayDatabase db{"listener", ThrowawayDatabase::Contents::empty};
  std::unique_ptr<Connection> writer;
};

TEST_F(ListenerTest, DeliversNotificationsOfItsChannelsInOrder) {
  Seen seen;
  Listener listener(db.url(), options(), recording(seen));
  // The catch-up runs after LISTEN: from then on nothing sent is missed.
  ASSERT_TRUE(eventually([&] { return seen.catch_ups() == 1; }));

  {
    wangge::pg::Transaction tx(*writer);
    tx.exec("test.notify", "SELECT pg_notify('test_one', 'a'), pg_notify('test_other', 'not heard')");
    tx.exec("test.notify", "SELECT pg_notify('test_two', $1)", {std::string("b")});
    tx.commit();
  }
  writer->exec("test.notify", "SELECT pg_notify('test_one', '')");
  ASSERT_TRUE(eventually([&] { return seen.notifications() >= 3; }));
  std::this_thread::sleep_for(200ms);  // nothing else may follow

  std::lock_guard lock(seen.mutex);
  ASSERT_EQ(seen.received.size(), 3u);
  EXPECT_EQ(seen.received[0].channel, "test_one");
  EXPECT_EQ(seen.received[0].payload, "a");
  EXPECT_EQ(seen.received[1].channel, "test_two");
  EXPECT_EQ(seen.received[1].payload, "b");
  EXPECT_EQ(seen.received[2].channel, "test_one");
  EXPECT_EQ(seen.received[2].payload, "");
  EXPECT_EQ(seen.catch_up_counts.size(), 1u);  // no reconnection meanwhile
}

TEST_F(ListenerTest, CatchesUpAfterItsConnectionIsKilled) {
  Seen seen;
  auto o = options();
  o.retry_first = 1s;  // ample time to commit the change below while the listener is away
  Listener listener(db.url(), o, recording(seen));
  ASSERT_TRUE(eventually([&] { return seen.catch_ups() == 1; }));
  long long first_backend = 0;
  {
    std::lock_guard lock(seen.mutex);
    EXPECT_EQ(seen.catch_up_counts[0], 0);
    first_backend = seen.catch_up_backends[0];
  }

  // Kill the listener's backend, then commit a change and its NOTIFY while the listener is away
  // (it waits a second before reconnecting): that notification is lost for good.
  auto killed = writer->exec("test.kill", "SELECT pg_terminate_backend($1::int)", {std::to_string(first_backend)});
  ASSERT_TRUE(killed.boolean(0, 0));
  writer->exec("test.insert", "INSERT INTO items DEFAULT VALUES");
  writer->exec("test.notify", "SELECT pg_notify('test_one', 'sent while disconnected')");

  // The listener noticed, reconnected on a new backend and caught up: it saw the row.
  ASSERT_TRUE(eventually([&] { return seen.catch_ups() >= 2; })) << "no catch-up after the connection was killed";
  {
    std::lock_guard lock(seen.mutex);
    EXPECT_NE(seen.catch_up_backends[1], first_backend);
    EXPECT_EQ(seen.catch_up_counts[1], 1) << "the catch-up did not see the change made while disconnected";
  }

  // And it listens again on the new connection.
  const std::size_t before = seen.notifications();
  writer->exec("test.notify", "SELECT pg_notify('test_two', 'after')");
  ASSERT_TRUE(eventually([&] { return seen.notifications() > before; }));
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.received.back().channel, "test_two");
  EXPECT_EQ(seen.received.back().payload, "after");
}

TEST_F(ListenerTest, AHandlerThatThrowsLeadsToAReconnectionAndACatchUp) {
  Seen seen;
  Listener listener(db.url(), options(), recording(seen));
  ASSERT_TRUE(eventually([&] { return seen.catch_ups() == 1; }));
  // The change may be half applied when a handler fails: the owner gets a full catch-up.
  writer->exec("test.insert", "INSERT INTO items DEFAULT VALUES");
  writer->exec("test.notify", "SELECT pg_notify('test_one', 'throw')");
  ASSERT_TRUE(eventually([&] { return seen.catch_ups() == 2; }));
  std::lock_guard lock(seen.mutex);
  EXPECT_EQ(seen.catch_up_counts[1], 1);
}

TEST_F(ListenerTest, StopReturnsPromptlyAndNothingRunsAfterIt) {
  Seen seen;
  auto listener = std::make_unique<Listener>(db.url(), options(), recording(seen));
  ASSERT_TRUE(eventually([&] { return seen.catch_ups() == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  listener->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  writer->exec("test.notify", "SELECT pg_notify('test_one', 'too late')");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen.notifications(), 0u);
  listener.reset();  // a second stop (the destructor's) is harmless
}

TEST_F(ListenerTest, StopEndsTheRetriesWhenTheDatabaseCannotBeReached) {
  Seen seen;
  auto o = options();
  o.retry_first = 5s;
  Listener listener(ThrowawayDatabase::url_of("wangge_t_listener_no_such_database"), o, recording(seen));
  std::this_thread::sleep_for(300ms);  // the first attempt failed; it now waits 5 s
  const auto t0 = std::chrono::steady_clock::now();
  listener.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(seen.catch_ups(), 0u);
}

TEST(ListenerChannels, RefusesANameThatIsNotAPlainIdentifier) {
  Listener::Options o;
  o.channels = {"wangge_areas; DROP TABLE areas"};
  EXPECT_THROW(Listener("postgresql:///unused", o, {}), std::invalid_argument);
}

TEST(SnapshotTest, AValueTakenStaysWholeWhileOthersAreStored) {
  struct Pair {
    long long a, b;  // always equal in a stored value
  };
  wangge::Snapshot<Pair> snapshot(std::make_shared<const Pair>(Pair{0, 0}));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (long long i = 1; !stop; ++i) snapshot.store(std::make_shared<const Pair>(Pair{i, i}));
  });
  long long last = 0;
  for (int i = 0; i < 200000; ++i) {
    auto p = snapshot.load();
    ASSERT_EQ(p->a, p->b);
    ASSERT_GE(p->a, last);  // never older than one seen before
    last = p->a;
  }
  stop = true;
  writer.join();
  auto old = snapshot.exchange(std::make_shared<const Pair>(Pair{-1, -1}));
  EXPECT_EQ(old->a, old->b);
  EXPECT_EQ(snapshot.load()->a, -1);
}

}  // namespace
