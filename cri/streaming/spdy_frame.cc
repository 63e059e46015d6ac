#include "cri/streaming/spdy_frame.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

namespace crisp::streaming::spdy {

namespace {

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get_u32(std::string_view in, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

std::string control_frame(ControlType type, uint8_t flags, const std::string& payload) {
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) >> 8));
  out.push_back(static_cast<char>(static_cast<uint16_t>(type) & 0xff));
  out.push_back(static_cast<char>(flags));
  uint32_t len = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>(len >> 16));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len));
  out += payload;
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::string header_value(const HeaderBlock& headers, std::string_view name) {
  std::string want = lower(name);
  for (const auto& [key, value] : headers) {
    if (lower(key) == want) return value.substr(0, value.find('\0'));
  }
  return "";
}

const std::string& header_dictionary() {
  // SPDY/3 section 2.6.10.1: length-prefixed header names and common values, then a run of
  // status codes, reason phrases, dates and media types.
  static const std::string dictionary = [] {
    static const char* const words[] = {
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
        "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
        "cache-control", "connection", "content-base", "content-encoding", "content-language",
        "content-length", "content-location", "content-md5", "content-range", "content-type",
        "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
        "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
        "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
        "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"};
    std::string d;
    for (const char* w : words) {
      put_u32(d, static_cast<uint32_t>(std::string_view(w).size()));
      d += w;
    }
    d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
         "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
         "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
         "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
         "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivate"
         "max-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    return d;
  }();
  return dictionary;
}

struct HeaderCompressor::State {
  z_stream z{};
};

HeaderCompressor::HeaderCompressor() : state_(std::make_unique<State>()) {
  if (deflateInit(&state_->z, Z_DEFAULT_COMPRESSION) != Z_OK) throw std::bad_alloc();
  const std::string& dict = header_dictionary();
  deflateSetDictionary(&state_->z, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size()));
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&state_->z); }

std::string HeaderCompressor::compress(const HeaderBlock& headers) {
  std::string raw;
  put_u32(raw, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    std::string key = lower(name);
    put_u32(raw, static_cast<uint32_t>(key.size()));
    raw += key;
    put_u32(raw, static_cast<uint32_t>(value.size()));
    raw += value;
  }
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw ProtocolError("deflate header block failed");
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

struct HeaderDecompressor::State {
  z_stream z{};
};

HeaderDecompressor::HeaderDecompressor(size_t max_block_size)
    : state_(std::make_unique<State>()), max_block_size_(max_block_size) {
  if (inflateInit(&state_->z) != Z_OK) throw std::bad_alloc();
}

HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&state_->z); }

HeaderBlock HeaderDecompressor::decompress(std::string_view compressed) {
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string raw;
  char buf[4096];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& dict = header_dictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()), static_cast<uInt>(dict.size())) !=
          Z_OK) {
        throw ProtocolError("header block uses an unknown dictionary");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) throw ProtocolError("corrupt header block");
    raw.append(buf, sizeof(buf) - z.avail_out);
    if (raw.size() > max_block_size_) throw ProtocolError("header block too large");
    if (rc != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) break;
  }
  HeaderBlock headers;
  size_t at = 0;
  auto need = [&](size_t n) {
    if (raw.size() - at < n) throw ProtocolError("truncated header block");
  };
  need(4);
  uint32_t count = get_u32(raw, at);
  at += 4;
  if (count > raw.size() / 8) throw ProtocolError("header block claims too many headers");
  for (uint32_t i = 0; i < count; ++i) {
    need(4);
    uint32_t name_len = get_u32(raw, at);
    at += 4;
    need(name_len);
    std::string name = raw.substr(at, name_len);
    at += name_len;
    need(4);
    uint32_t value_len = get_u32(raw, at);
    at += 4;
    need(value_len);
    headers.emplace_back(std::move(name), raw.substr(at, value_len));
    at += value_len;
  }
  return headers;
}

std::optional<Frame> FrameDecoder::next() {
  if (buffered() < kFrameHeaderSize) return std::nullopt;
  std::string_view in(buffer_);
  in.remove_prefix(offset_);
  auto byte = [&](size_t i) { return static_cast<unsigned char>(in[i]); };
  size_t length = static_cast<size_t>(byte(5)) << 16 | static_cast<size_t>(byte(6)) << 8 | byte(7);
  if (length > max_) throw ProtocolError("frame of " + std::to_string(length) + " bytes exceeds the limit");
  Frame frame;
  frame.control = (byte(0) & 0x80) != 0;
  if (frame.control) {
    uint16_t version = static_cast<uint16_t>((byte(0) & 0x7f) << 8 | byte(1));
    if (version != kVersion) throw ProtocolError("unsupported SPDY version " + std::to_string(version));
    frame.type = static_cast<ControlType>(byte(2) << 8 | byte(3));
  } else {
    frame.stream_id = get_u32(in, 0) & 0x7fffffff;
  }
  frame.flags = byte(4);
  if (in.size() < kFrameHeaderSize + length) return std::nullopt;
  frame.payload.assign(in.substr(kFrameHeaderSize, length));
  offset_ += kFrameHeaderSize + length;
  if (offset_ > 64 * 1024 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return frame;
}

uint32_t decode_u32_at(const Frame& frame, size_t offset) {
  if (frame.payload.size() < offset + 4) throw ProtocolError("control frame too short");
  return get_u32(frame.payload, offset);
}

uint32_t decode_stream_id(const Frame& frame) { return decode_u32_at(frame, 0) & 0x7fffffff; }

SynStream decode_syn_stream(const Frame& frame, HeaderDecompressor& decompressor) {
  if (frame.payload.size() < 10) throw ProtocolError("SYN_STREAM too short");
  SynStream syn;
  syn.flags = frame.flags;
  syn.stream_id = get_u32(frame.payload, 0) & 0x7fffffff;
  syn.associated_stream_id = get_u32(frame.payload, 4) & 0x7fffffff;
  syn.priority = static_cast<uint8_t>(static_cast<unsigned char>(frame.payload[8]) >> 5);
  syn.headers = decompressor.decompress(std::string_view(frame.payload).substr(10));
  return syn;
}

SynReply decode_syn_reply(const Frame& frame, HeaderDecompressor& decompressor) {
  if (frame.payload.size() < 4) throw ProtocolError("SYN_REPLY too short");
  SynReply reply;
  reply.flags = frame.flags;
  reply.stream_id = get_u32(frame.payload, 0) & 0x7fffffff;
  reply.headers = decompressor.decompress(std::string_view(frame.payload).substr(4));
  return reply;
}

SynReply decode_headers(const Frame& frame, HeaderDecompressor& decompressor) {
  return decode_syn_reply(frame, decompressor);
}

std::string encode_data(uint32_t stream_id, std::string_view data, uint8_t flags) {
  std::string out;
  out.reserve(kFrameHeaderSize + data.size());
  put_u32(out, stream_id & 0x7fffffff);
  uint32_t len = static_cast<uint32_t>(data.size());
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(len >> 16));
  out.push_back(static_cast<char>(len >> 8));
  out.push_back(static_cast<char>(len));
  out += data;
  return out;
}

std::string encode_syn_stream(const SynStream& syn, HeaderCompressor& compressor) {
  std::string payload;
  put_u32(payload, syn.stream_id & 0x7fffffff);
  put_u32(payload, syn.associated_stream_id & 0x7fffffff);
  payload.push_back(static_cast<char>((syn.priority & 0x7) << 5));
  payload.push_back(0);  // slot
  payload += compressor.compress(syn.headers);
  return control_frame(ControlType::kSynStream, syn.flags, payload);
}

std::string encode_syn_reply(uint32_t stream_id, const HeaderBlock& headers, uint8_t flags,
                             HeaderCompressor& compressor) {
  std::string payload;
  put_u32(payload, stream_id & 0x7fffffff);
  payload += compressor.compress(headers);
  return control_frame(ControlType::kSynReply, flags, payload);
}

std::string encode_rst_stream(uint32_t stream_id, uint32_t status) {
  std::string payload;
  put_u32(payload, stream_id & 0x7fffffff);
  put_u32(payload, status);
  return control_frame(ControlType::kRstStream, 0, payload);
}

std::string encode_ping(uint32_t id) {
  std::string payload;
  put_u32(payload, id);
  return control_frame(ControlType::kPing, 0, payload);
}

std::string encode_goaway(uint32_t last_good_stream_id, uint32_t status) {
  std::string payload;
  put_u32(payload, last_good_stream_id & 0x7fffffff);
  put_u32(payload, status);
  return control_frame(ControlType::kGoAway, 0, payload);
}

std::string encode_window_update(uint32_t stream_id, uint32_t delta) {
  std::string payload;
  put_u32(payload, stream_id & 0x7fffffff);
  put_u32(payload, delta & 0x7fffffff);
  return control_frame(ControlType::kWindowUpdate, 0, payload);
}

}  // namespace crisp::streaming::spdy
