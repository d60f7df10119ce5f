/*
 * json_dom: simdjson's DOM parser behind a C interface (see json_dom.h).
 *
 * One parser per thread (ingest consumers and HTTP intake threads decode at
 * once). The parser keeps its buffers between messages, so the steady state
 * allocates nothing; a parser grown past KEEP_BYTES by one big message is
 * dropped by jd_release() so a single 1 MiB body does not pin ~15x that per
 * thread for good. Only the error-code API is used and every entry point is
 * noexcept: nothing throws into C.
 */
#include <algorithm>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <simdjson.h>

#include "json_dom.h"

namespace dom = simdjson::dom;

static_assert(sizeof(dom::element) == sizeof(((jd_val_t *)nullptr)->u.ref),
              "jd_val_t.u.ref holds a simdjson::dom::element");
static_assert(std::is_trivially_copyable<dom::element>::value, "dom::element is copied as bytes");

namespace {

constexpr size_t MIN_CAPACITY = 4096;
constexpr size_t KEEP_BYTES = 256 * 1024;

thread_local dom::parser parser;

dom::element ref_of(const jd_val_t *v) noexcept
{
    dom::element e;
    std::memcpy(static_cast<void *>(&e), v->u.ref, sizeof(e));
    return e;
}

/* simdjson's scope counts saturate at 0xFFFFFF; count the long ones. */
template <class T> size_t count(const T &scope) noexcept
{
    size_t n = scope.size();
    if (n < 0xFFFFFF) return n;
    n = 0;
    for (auto it = scope.begin(); it != scope.end(); ++it) n++;
    return n;
}

void to_val(const dom::element &e, jd_val_t *v) noexcept
{
    using T = dom::element_type;
    v->n = 0;
    switch (e.type()) {
    case T::STRING: {
        std::string_view s;
        if (e.get_string().get(s)) break; /* never: the type says string */
        v->type = JD_STRING;
        v->u.str.ptr = s.data();
        v->u.str.len = s.size();
        return;
    }
    case T::ARRAY: {
        dom::array a;
        if (e.get_array().get(a)) break;
        v->type = JD_ARRAY;
        v->n = count(a);
        std::memcpy(v->u.ref, static_cast<const void *>(&e), sizeof(e));
        return;
    }
    case T::OBJECT: {
        dom::object o;
        if (e.get_object().get(o)) break;
        v->type = JD_OBJECT;
        v->n = count(o);
        std::memcpy(v->u.ref, static_cast<const void *>(&e), sizeof(e));
        return;
    }
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE: v->type = JD_NUMBER; return;
    case T::BOOL: v->type = JD_BOOL; return;
    case T::NULL_VALUE: v->type = JD_NULL; return;
    }
    v->type = JD_NULL; /* unreachable: every element_type is handled above */
    v->n = 0;
}

/* simdjson reads up to SIMDJSON_PADDING bytes past a text (their values do
 * not matter, only that they can be read), so parse() copies every text
 * into a padded buffer of the parser's first. When those bytes lie on the
 * page of the text's last byte they are mapped, whatever holds them: the
 * text is then parsed where it lies (a Kafka message, in librdkafka's
 * buffer), which spares a copy of each message. 4096 is the smallest page
 * size. Not under AddressSanitizer, which would flag the read. */
#if defined(__SANITIZE_ADDRESS__)
#define JD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JD_ASAN 1
#endif
#endif

bool padding_readable(const char *buf, size_t len) noexcept
{
#ifdef JD_ASAN
    (void)buf;
    (void)len;
    return false;
#else
    constexpr uintptr_t PAGE = 4096;
    uintptr_t last = reinterpret_cast<uintptr_t>(buf) + len - 1;
    return len > 0 && last / PAGE == (last + simdjson::SIMDJSON_PADDING) / PAGE;
#endif
}

} // namespace

extern "C" jd_status_t jd_parse(const char *buf, size_t len, jd_val_t *root,
                                const char **why) noexcept
{
    simdjson::error_code err = simdjson::SUCCESS;
    /* Grown here rather than by simdjson, which would size it to each
     * larger document exactly and, on a fresh parser, with its own depth
     * limit: doubling, from a small start (the HTTP intake has a thread per
     * connection, and a parser costs ~15 bytes per byte of capacity). */
    size_t cap = parser.capacity();
    if (cap == 0 || len > cap) {
        cap = std::max({len, 2 * cap, MIN_CAPACITY});
        err = parser.allocate(cap, JD_MAX_DEPTH);
        if (!err) err = parser.doc.allocate(cap);
    }
    dom::element e;
    /* true: copy into a padded buffer */
    if (!err) err = parser.parse(buf, len, !padding_readable(buf, len)).get(e);
    if (why) *why = simdjson::error_message(err);
    switch (err) {
    case simdjson::SUCCESS: to_val(e, root); return JD_OK;
    case simdjson::UTF8_ERROR: return JD_BAD_UTF8;
    case simdjson::NUMBER_ERROR: return JD_BAD_NUMBER;
    case simdjson::UNESCAPED_CHARS: return JD_RAW_CONTROL;
    case simdjson::DEPTH_ERROR: return JD_TOO_DEEP;
    case simdjson::MEMALLOC:
    case simdjson::CAPACITY: return JD_NO_MEMORY;
    default: return JD_SYNTAX;
    }
}

extern "C" size_t jd_members(const jd_val_t *obj, jd_member_t *out) noexcept
{
    dom::object o;
    if (obj->type != JD_OBJECT || ref_of(obj).get_object().get(o)) return 0;
    size_t i = 0;
    for (dom::key_value_pair kv : o) {
        if (i == obj->n) break;
        out[i].key = kv.key.data();
        out[i].key_len = kv.key.size();
        to_val(kv.value, &out[i].val);
        i++;
    }
    return i;
}

extern "C" size_t jd_items(const jd_val_t *arr, jd_val_t *out) noexcept
{
    dom::array a;
    if (arr->type != JD_ARRAY || ref_of(arr).get_array().get(a)) return 0;
    size_t i = 0;
    for (dom::element item : a) {
        if (i == arr->n) break;
        to_val(item, &out[i++]);
    }
    return i;
}

extern "C" void jd_release(void) noexcept
{
    if (parser.capacity() > KEEP_BYTES) parser = dom::parser{};
}
