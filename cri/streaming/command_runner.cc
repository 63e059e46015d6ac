// OutputQueue and CommandRunner (session.h).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "cri/streaming/session.h"

namespace crisp::streaming {

namespace {

using asio::redirect_error;
using asio::use_awaitable;

// Timers used as condition signals keep their expiry at "never": cancel() wakes every waiter and
// re-arming is not needed (expires_at() would cancel the other waiters).
void arm_forever(asio::steady_timer& timer) { timer.expires_at(asio::steady_timer::time_point::max()); }

}  // namespace

OutputQueue::OutputQueue(asio::any_io_executor executor, Writer writer, size_t limit,
                         std::chrono::milliseconds write_timeout, std::function<void()> on_stall)
    : writer_(std::move(writer)),
      limit_(limit),
      write_timeout_(write_timeout),
      on_stall_(std::move(on_stall)),
      stall_timer_(executor),
      wake_writer_(executor),
      wake_producers_(executor) {
  arm_forever(wake_writer_);
  arm_forever(wake_producers_);
}

void OutputQueue::start() {
  asio::co_spawn(wake_writer_.get_executor(), [self = shared_from_this()] { return self->run(); }, asio::detached);
}

void OutputQueue::push(std::string message) {
  if (failed_) return;
  queued_bytes_ += message.size();
  queue_.push_back(std::move(message));
  wake_writer_.cancel();
}

asio::awaitable<void> OutputQueue::wait(asio::steady_timer& timer) {
  boost::system::error_code ec;
  co_await timer.async_wait(redirect_error(use_awaitable, ec));
}

asio::awaitable<void> OutputQueue::wait_for_room() {
  while (queued_bytes_ >= limit_ && !failed_) co_await wait(wake_producers_);
}

asio::awaitable<void> OutputQueue::flush() {
  while ((!queue_.empty() || writing_) && !failed_) co_await wait(wake_producers_);
}

void OutputQueue::fail() {
  failed_ = true;
  wake_writer_.cancel();
  wake_producers_.cancel();
}

asio::awaitable<void> OutputQueue::run() {
  auto self = shared_from_this();
  while (!failed_) {
    if (queue_.empty()) {
      co_await wait(wake_writer_);
      continue;
    }
    std::string message = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    stall_timer_.expires_after(write_timeout_);
    stall_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->fail();
      if (self->on_stall_) self->on_stall_();
    });
    try {
      co_await writer_(message);
    } catch (const std::exception&) {
      failed_ = true;
    }
    stall_timer_.cancel();
    writing_ = false;
    queued_bytes_ -= message.size();
    wake_producers_.cancel();
  }
  queue_.clear();
  queued_bytes_ = 0;
  writer_ = nullptr;  // drops what the writer and on_stall captured (the connection)
  on_stall_ = nullptr;
  wake_producers_.cancel();
}

CommandRunner::CommandRunner(asio::any_io_executor executor, StreamBackend& backend, CommandRequest request,
                             std::shared_ptr<OutputQueue> queue, Emit emit)
    : executor_(executor),
      backend_(backend),
      request_(std::move(request)),
      queue_(std::move(queue)),
      emit_(std::move(emit)),
      stdin_(executor),
      stdout_(executor),
      stderr_(executor),
      exit_pipe_(executor),
      done_(executor) {
  arm_forever(done_);
}

CommandRunner::~CommandRunner() {
  if (process_) process_->kill();
  if (waiter_.joinable()) waiter_.join();
}

bool CommandRunner::start() {
  try {
    if (request_.exec) {
      process_ = backend_.start_exec(request_.exec_spec);
    } else {
      process_ = backend_.attach(request_.attach_spec);
    }
  } catch (const std::exception& e) {
    result_.error = e.what();
    return false;
  }
  // exec applies initial_size when it creates the terminal; an attachment joins an existing one.
  if (!request_.exec && request_.tty() && request_.initial_size().width) process_->resize(request_.initial_size());
  if (process_->stdin_fd) stdin_.assign(process_->stdin_fd.release());
  if (process_->stdout_fd) stdout_.assign(process_->stdout_fd.release());
  if (process_->stderr_fd) stderr_.assign(process_->stderr_fd.release());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result_.error = "pipe: " + std::string(strerror(errno));
    process_->kill();
    return false;
  }
  exit_pipe_.assign(fds[0]);
  waiter_ = std::thread([this, process = process_.get(), notify = fds[1]] {
    exit_code_ = process->wait();
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(notify, &byte, 1);
    ::close(notify);
  });
  return true;
}

void CommandRunner::changed() { done_.cancel(); }

asio::awaitable<void> CommandRunner::pump(asio::posix::stream_descriptor& fd, uint8_t channel) {
  auto self = shared_from_this();
  std::string buf(32 * 1024, '\0');
  for (;;) {
    co_await queue_->wait_for_room();
    if (queue_->failed()) break;
    boost::system::error_code ec;
    size_t n = co_await fd.async_read_some(asio::buffer(buf), redirect_error(use_awaitable, ec));
    if (ec || n == 0) break;
    emit_(channel, buf.substr(0, n));
  }
  --pending_;
  changed();
}

asio::awaitable<void> CommandRunner::wait_exit() {
  auto self = shared_from_this();
  char byte = 0;
  boost::system::error_code ec;
  co_await exit_pipe_.async_read_some(asio::buffer(&byte, 1), redirect_error(use_awaitable, ec));
  --pending_;
  changed();
}

asio::awaitable<CommandResult> CommandRunner::run() {
  auto self = shared_from_this();
  if (!result_.error.empty()) co_return result_;
  if (stdout_.is_open()) {
    ++pending_;
    asio::co_spawn(executor_, pump(stdout_, 1), asio::detached);
  }
  if (stderr_.is_open()) {
    ++pending_;
    asio::co_spawn(executor_, pump(stderr_, 2), asio::detached);
  }
  ++pending_;
  asio::co_spawn(executor_, wait_exit(), asio::detached);
  while (pending_ > 0) {
    boost::system::error_code ec;
    co_await done_.async_wait(redirect_error(use_awaitable, ec));
  }
  if (waiter_.joinable()) waiter_.join();
  result_.exit_code = exit_code_;
  co_return result_;
}

asio::awaitable<void> CommandRunner::write_stdin(std::string data) {
  if (!stdin_.is_open() || data.empty()) co_return;
  boost::system::error_code ec;
  co_await asio::async_write(stdin_, asio::buffer(data), redirect_error(use_awaitable, ec));
  if (ec) close_stdin();
}

void CommandRunner::close_stdin() {
  boost::system::error_code ec;
  if (stdin_.is_open()) stdin_.close(ec);
}

void CommandRunner::resize(TerminalSize size) {
  if (process_ && request_.tty()) process_->resize(size);
}

void CommandRunner::kill() {
  if (process_) process_->kill();
}

}  // namespace crisp::streaming
