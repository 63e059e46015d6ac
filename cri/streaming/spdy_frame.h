#pragma once
// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 with the 3.1 flow-control changes), as spoken
// by the Kubernetes streaming clients (moby/spdystream): data frames, SYN_STREAM, SYN_REPLY,
// RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS and WINDOW_UPDATE; header blocks compressed with
// zlib and the SPDY/3 dictionary, one compression context per direction for the whole connection.
//
//   FrameDecoder decoder(kMaxFrameLength);
//   decoder.feed(bytes, n);
//   while (auto frame = decoder.next()) { if (frame->is(kSynStream)) ... }
//
// Malformed input throws ProtocolError; the connection must then be closed.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crisp::streaming::spdy {

inline constexpr uint16_t kVersion = 3;

enum class ControlType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagUnidirectional = 0x02;

// RST_STREAM status codes.
inline constexpr uint32_t kProtocolError = 1;
inline constexpr uint32_t kInvalidStream = 2;
inline constexpr uint32_t kRefusedStream = 3;
inline constexpr uint32_t kCancel = 5;
inline constexpr uint32_t kInternalError = 6;

// Frames longer than this are refused (the wire allows 16 MiB - 1).
inline constexpr size_t kDefaultMaxFrameLength = 1 << 20;
inline constexpr size_t kFrameHeaderSize = 8;

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Header names are lower-case on the wire; several values of one name are joined by NUL.
using HeaderBlock = std::vector<std::pair<std::string, std::string>>;
// The value of a header (case-insensitive name), or "" if absent.
std::string header_value(const HeaderBlock& headers, std::string_view name);

// One frame as read from the wire: a data frame or a control frame with its raw payload.
struct Frame {
  bool control = false;
  ControlType type = ControlType::kSynStream;  // control frames only
  uint8_t flags = 0;
  uint32_t stream_id = 0;  // data frames only
  std::string payload;
  bool is(ControlType t) const { return control && type == t; }
};

// The SPDY/3 header compression dictionary (1423 bytes).
const std::string& header_dictionary();

// Deflates header blocks: one instance per connection direction (the context carries over).
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  std::string compress(const HeaderBlock& headers);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Inflates header blocks; limits the decompressed size of one block.
class HeaderDecompressor {
 public:
  explicit HeaderDecompressor(size_t max_block_size = 64 * 1024);
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  HeaderBlock decompress(std::string_view compressed);

 private:
  struct State;
  std::unique_ptr<State> state_;
  size_t max_block_size_;
};

// Splits a byte stream into frames.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_length = kDefaultMaxFrameLength) : max_(max_frame_length) {}
  void feed(const char* data, size_t size) { buffer_.append(data, size); }
  // The next complete frame, or nullopt if more bytes are needed. Throws ProtocolError for a
  // frame longer than the limit or a control frame of another SPDY version.
  std::optional<Frame> next();
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
  size_t max_;
};

struct SynStream {
  uint32_t stream_id = 0;
  uint32_t associated_stream_id = 0;
  uint8_t priority = 0;
  uint8_t flags = 0;
  HeaderBlock headers;
};

struct SynReply {
  uint32_t stream_id = 0;
  uint8_t flags = 0;
  HeaderBlock headers;
};

// Control frame payload decoders; throw ProtocolError on short payloads.
SynStream decode_syn_stream(const Frame& frame, HeaderDecompressor& decompressor);
SynReply decode_syn_reply(const Frame& frame, HeaderDecompressor& decompressor);
// HEADERS frames: stream id + header block (decoded like a SYN_REPLY).
SynReply decode_headers(const Frame& frame, HeaderDecompressor& decompressor);
uint32_t decode_stream_id(const Frame& frame);  // RST_STREAM, WINDOW_UPDATE: the stream id
uint32_t decode_u32_at(const Frame& frame, size_t offset);

// Encoders: each returns a whole frame.
std::string encode_data(uint32_t stream_id, std::string_view data, uint8_t flags = 0);
std::string encode_syn_stream(const SynStream& syn, HeaderCompressor& compressor);
std::string encode_syn_reply(uint32_t stream_id, const HeaderBlock& headers, uint8_t flags,
                             HeaderCompressor& compressor);
std::string encode_rst_stream(uint32_t stream_id, uint32_t status);
std::string encode_ping(uint32_t id);
std::string encode_goaway(uint32_t last_good_stream_id, uint32_t status = 0);
std::string encode_window_update(uint32_t stream_id, uint32_t delta);

}  // namespace crisp::streaming::spdy
