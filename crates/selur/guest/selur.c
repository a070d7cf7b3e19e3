/*
 * selur.wasm — the container-lifecycle guest.
 *
 * This module owns the container table and its state machine
 * (created -> running -> stopped, restart from stopped) and nothing else:
 * every effect on the outside world (making a bundle, running runc, reading
 * the clock) is asked of the host through the imported `selur.host_*`
 * functions, so one guest drives every backend the host offers.
 *
 * The guest trusts nothing the host hands it: every pointer and length is
 * checked against the current size of linear memory before it is read.
 *
 * Wire format (all integers little-endian):
 *   request  = [command u8][payload_len u32][payload]
 *   response = [status  u8][payload_len u32][payload]
 * The response lives in guest memory at response_ptr() and is
 * response_len() bytes long (header included) until the next request.
 *
 * Built freestanding (no libc) with clang-16 --target=wasm32; see
 * xtask/src/guest.rs for the exact command line.
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;
typedef unsigned long usize;

#define EXPORT(name) __attribute__((export_name(name)))
#define IMPORT(name) __attribute__((import_module("selur"), import_name(name)))

/* Commands. */
enum {
    CMD_CREATE = 1,
    CMD_START = 2,
    CMD_STOP = 3,
    CMD_INSPECT = 4,
    CMD_DELETE = 5,
    CMD_LIST = 6,
    /* Diagnostics: answers the payload unchanged; measures the transport. */
    CMD_ECHO = 7,
};

/* Statuses; the host maps each to one error kind. */
enum {
    ST_OK = 0,
    ST_INVALID_REQUEST = 1,
    ST_NOT_FOUND = 2,
    ST_ALREADY_EXISTS = 3,
    ST_NETWORK_ERROR = 4,
    ST_INTERNAL_ERROR = 5,
};

enum { STATE_CREATED = 0, STATE_RUNNING = 1, STATE_STOPPED = 2 };

#define HEADER_LEN 5u
#define ID_MAX 64u
#define IMAGE_MAX 255u

/* Host effects. Each returns a status (0 = ok) unless noted. */
IMPORT("host_now_ms") i64 host_now_ms(void);
IMPORT("host_random") i64 host_random(void);
IMPORT("host_create") i32 host_create(const u8 *id, u32 id_len, const u8 *image, u32 image_len);
IMPORT("host_start") i32 host_start(const u8 *id, u32 id_len);
IMPORT("host_stop") i32 host_stop(const u8 *id, u32 id_len);
IMPORT("host_delete") i32 host_delete(const u8 *id, u32 id_len);
/* Writes the backend's view of the container as one JSON object into out.
 * Returns its length (when larger than cap nothing was written: call again
 * with a bigger buffer), or -status on failure. */
IMPORT("host_inspect") i32 host_inspect(const u8 *id, u32 id_len, u8 *out, u32 cap);
/* Copies the message of the last failed effect into out (truncated to cap),
 * returns the number of bytes copied. */
IMPORT("host_error") i32 host_error(u8 *out, u32 cap);

/* ---------------------------------------------------------------- memory */

extern u8 __heap_base;

static usize heap_top;

static usize memory_bytes(void) { return (usize)__builtin_wasm_memory_size(0) * 65536u; }

static void copy(void *dst, const void *src, u32 n) { __builtin_memcpy(dst, src, n); }

static int same(const u8 *a, const u8 *b, u32 n) {
    for (u32 i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static u32 length(const char *s) {
    u32 n = 0;
    while (s[n]) n++;
    return n;
}

/* A segregated free-list allocator: blocks are powers of two from 16 bytes,
 * each preceded by an 8-byte header holding its class and an in-use mark.
 * Freed blocks go to the list of their class and are reused; memory only
 * grows. The mark lets deallocate refuse a pointer it never handed out, or
 * one already freed, which would otherwise put one block on a list twice and
 * hand it out to two owners. */
#define N_CLASSES 28
#define BLOCK_HEADER 8u
#define BLOCK_IN_USE 0x5e1a110cu
static u8 *free_lists[N_CLASSES];

static int class_of(u32 size) {
    /* size + header must not wrap: anything past the largest class fails. */
    if (size > (16u << (N_CLASSES - 1)) - BLOCK_HEADER) return N_CLASSES;
    u32 need = size + BLOCK_HEADER;
    int c = 0;
    while (c < N_CLASSES && (16u << c) < need) c++;
    return c;
}

static u8 *bump(u32 n) {
    if (heap_top == 0) heap_top = ((usize)&__heap_base + 15u) & ~(usize)15u;
    usize end = heap_top + n;
    if (end < heap_top) return 0;
    usize have = memory_bytes();
    if (end > have) {
        usize pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (usize)-1) return 0;
    }
    u8 *p = (u8 *)heap_top;
    heap_top = end;
    return p;
}

static void *alloc(u32 size) {
    int c = class_of(size);
    if (c >= N_CLASSES) return 0;
    u8 *block = free_lists[c];
    if (block) {
        free_lists[c] = *(u8 **)(block + BLOCK_HEADER);
    } else {
        block = bump(16u << c);
        if (!block) return 0;
    }
    *(u32 *)block = (u32)c;
    *(u32 *)(block + 4) = BLOCK_IN_USE;
    return block + BLOCK_HEADER;
}

static void release(void *p) {
    if (!p) return;
    u8 *block = (u8 *)p - BLOCK_HEADER;
    /* Only blocks of this heap (16-aligned, below the bump pointer) that are
     * marked in use are taken back. */
    usize base = ((usize)&__heap_base + 15u) & ~(usize)15u;
    if ((usize)block < base || (usize)block >= heap_top || ((usize)block & 15u) != 0) return;
    u32 c = *(u32 *)block;
    if (c >= N_CLASSES || *(u32 *)(block + 4) != BLOCK_IN_USE) return;
    *(u32 *)(block + 4) = 0;
    *(u8 **)(block + BLOCK_HEADER) = free_lists[c];
    free_lists[c] = block;
}

static int in_memory(usize ptr, usize len) {
    usize mem = memory_bytes();
    return ptr <= mem && len <= mem - ptr;
}

/* The host writes requests into buffers it gets here. Returns 0 when memory
 * cannot grow (the host's memory cap). */
EXPORT("allocate") void *allocate(u32 size) { return alloc(size); }

EXPORT("deallocate") void deallocate(void *ptr, u32 size) {
    (void)size;
    usize p = (usize)ptr;
    if (p < BLOCK_HEADER || !in_memory(p - BLOCK_HEADER, BLOCK_HEADER)) return;
    release(ptr);
}

/* -------------------------------------------------------------- response */

static u8 *resp;
static u32 resp_cap;
static u32 resp_len;
static int resp_failed;

EXPORT("response_ptr") u8 *response_ptr(void) { return resp; }
EXPORT("response_len") u32 response_len(void) { return resp_len; }

/* Makes room for `extra` more bytes; on failure marks the response failed. */
static int reserve(u32 extra) {
    if (resp_failed) return 0;
    u64 need = (u64)resp_len + extra;
    if (need > 0x7fffffffu) { resp_failed = 1; return 0; }
    if (need <= resp_cap) return 1;
    u32 cap = resp_cap ? resp_cap : 256u;
    while (cap < need) cap *= 2u;
    u8 *fresh = alloc(cap);
    if (!fresh) { resp_failed = 1; return 0; }
    if (resp_len) copy(fresh, resp, resp_len);
    release(resp);
    resp = fresh;
    resp_cap = cap;
    return 1;
}

static void begin(void) {
    resp_len = 0;
    resp_failed = 0;
    reserve(HEADER_LEN);
    resp_len = HEADER_LEN;
}

static void put(const void *bytes, u32 n) {
    if (!reserve(n)) return;
    copy(resp + resp_len, bytes, n);
    resp_len += n;
}

static void put_str(const char *s) { put(s, length(s)); }

static void put_i64(i64 v) {
    char buf[24];
    int i = 24;
    u64 u = v < 0 ? (u64)(-(v + 1)) + 1u : (u64)v;
    do { buf[--i] = (char)('0' + u % 10u); u /= 10u; } while (u);
    if (v < 0) buf[--i] = '-';
    put(buf + i, (u32)(24 - i));
}

/* A JSON string; the image and the id are validated printable ASCII, but
 * quote and backslash still need escaping. */
static void put_json_str(const u8 *s, u32 n) {
    put("\"", 1);
    for (u32 i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') put("\\", 1);
        put(s + i, 1);
    }
    put("\"", 1);
}

/* Finishes the response with `status`; returns the status. */
static i32 finish(i32 status) {
    if (resp_failed) {
        /* Out of memory while building: answer a bare internal error. The
         * header always fits, it was reserved first. */
        if (!resp || resp_cap < HEADER_LEN) { resp_len = 0; return ST_INTERNAL_ERROR; }
        status = ST_INTERNAL_ERROR;
        resp_len = HEADER_LEN;
    }
    u32 payload = resp_len - HEADER_LEN;
    resp[0] = (u8)status;
    resp[1] = (u8)payload;
    resp[2] = (u8)(payload >> 8);
    resp[3] = (u8)(payload >> 16);
    resp[4] = (u8)(payload >> 24);
    return status;
}

static i32 fail(i32 status, const char *msg) {
    begin();
    put_str(msg);
    return finish(status);
}

/* An error whose message names the container. */
static i32 fail_id(i32 status, const char *before, const u8 *id, u32 id_len, const char *after) {
    begin();
    put_str(before);
    put(id, id_len);
    put_str(after);
    return finish(status);
}

/* A failed host effect: its status and the backend's own message. */
static i32 fail_effect(i32 status) {
    if (status <= ST_OK || status > ST_INTERNAL_ERROR) status = ST_INTERNAL_ERROR;
    begin();
    if (reserve(512)) {
        i32 got = host_error(resp + resp_len, 512);
        if (got > 0 && got <= 512) resp_len += (u32)got; /* else: a host lying about it */
    }
    return finish(status);
}

/* ------------------------------------------------------------ containers */

typedef struct {
    u8 id[ID_MAX];
    u32 id_len;
    u8 *image;
    u32 image_len;
    u32 state;
    u32 restart_count;
    i64 created_at;
    i64 started_at; /* -1 = never */
    i64 stopped_at; /* -1 = never */
} Container;

static Container *table;
static u32 n_containers;
static u32 table_cap;

static Container *find(const u8 *id, u32 id_len) {
    for (u32 i = 0; i < n_containers; i++)
        if (table[i].id_len == id_len && same(table[i].id, id, id_len)) return &table[i];
    return 0;
}

static int valid_image(const u8 *s, u32 n) {
    if (n == 0 || n > IMAGE_MAX) return 0;
    for (u32 i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e) return 0;
    return 1;
}

/* The id rules runc uses: letters, digits, '_', '.', '-'; not starting with
 * a dot or dash. */
static int valid_id(const u8 *s, u32 n) {
    if (n == 0 || n > ID_MAX || s[0] == '.' || s[0] == '-') return 0;
    for (u32 i = 0; i < n; i++) {
        u8 c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

static const char *state_name(u32 s) {
    return s == STATE_CREATED ? "created" : s == STATE_RUNNING ? "running" : "stopped";
}

static void fresh_id(u8 *out) {
    static const char hex[] = "0123456789abcdef";
    for (;;) {
        u64 r = (u64)host_random();
        for (int i = 0; i < 16; i++) out[i] = (u8)hex[(r >> (i * 4)) & 15u];
        if (!find(out, 16)) return;
    }
}

/* payload = image, or image NUL name to choose the id. */
static i32 cmd_create(const u8 *p, u32 n) {
    u32 image_len = 0;
    while (image_len < n && p[image_len] != 0) image_len++;
    if (!valid_image(p, image_len))
        return fail(ST_INVALID_REQUEST, "image reference must be 1-255 printable ASCII characters");
    u8 id[ID_MAX];
    u32 id_len;
    if (image_len < n) {
        const u8 *name = p + image_len + 1;
        id_len = n - image_len - 1;
        if (!valid_id(name, id_len))
            return fail(ST_INVALID_REQUEST,
                        "container name must be 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'");
        if (find(name, id_len))
            return fail_id(ST_ALREADY_EXISTS, "container ", name, id_len, " already exists");
        copy(id, name, id_len);
    } else {
        fresh_id(id);
        id_len = 16;
    }
    if (n_containers == table_cap) {
        u32 cap = table_cap ? table_cap * 2u : 16u;
        Container *grown = alloc(cap * (u32)sizeof(Container));
        if (!grown) return fail(ST_INTERNAL_ERROR, "guest out of memory (container table)");
        if (n_containers) copy(grown, table, n_containers * (u32)sizeof(Container));
        release(table);
        table = grown;
        table_cap = cap;
    }
    u8 *image = alloc(image_len);
    if (!image) return fail(ST_INTERNAL_ERROR, "guest out of memory (image reference)");
    copy(image, p, image_len);

    i32 st = host_create(id, id_len, image, image_len);
    if (st != ST_OK) {
        release(image);
        return fail_effect(st);
    }
    Container *c = &table[n_containers++];
    copy(c->id, id, id_len);
    c->id_len = id_len;
    c->image = image;
    c->image_len = image_len;
    c->state = STATE_CREATED;
    c->restart_count = 0;
    c->created_at = host_now_ms();
    c->started_at = -1;
    c->stopped_at = -1;
    begin();
    put(id, id_len);
    return finish(ST_OK);
}

/* Looks up the container named by the payload or answers the error. */
static Container *lookup(const u8 *p, u32 n, i32 *status) {
    if (!valid_id(p, n)) {
        *status = fail(ST_INVALID_REQUEST, "container id must be 1-64 of [A-Za-z0-9_.-]");
        return 0;
    }
    Container *c = find(p, n);
    if (!c) *status = fail_id(ST_NOT_FOUND, "no container ", p, n, "");
    return c;
}

static i32 refuse(Container *c, const char *what) {
    begin();
    put_str("cannot ");
    put_str(what);
    put_str(" container ");
    put(c->id, c->id_len);
    put_str(": it is ");
    put_str(state_name(c->state));
    return finish(ST_INVALID_REQUEST);
}

/* What starting, stopping and deleting do to the container once the
 * host has done its part. */
static void started(Container *c) {
    if (c->state == STATE_STOPPED) c->restart_count++;
    c->state = STATE_RUNNING;
    c->started_at = host_now_ms();
}

static void stopped(Container *c) {
    c->state = STATE_STOPPED;
    c->stopped_at = host_now_ms();
}

static void deleted(Container *c) {
    release(c->image);
    *c = table[--n_containers];
}

/* Start, stop or delete (`what`) the container named by the payload: only
 * a running one (`running`) or only one not running may; the host's
 * `effect` first, then `done`. */
static i32 transition(const u8 *p, u32 n, const char *what, int running,
                      i32 (*effect)(const u8 *, u32), void (*done)(Container *)) {
    i32 st;
    Container *c = lookup(p, n, &st);
    if (!c) return st;
    if ((c->state == STATE_RUNNING) != running) return refuse(c, what);
    st = effect(c->id, c->id_len);
    if (st != ST_OK) return fail_effect(st);
    done(c);
    begin();
    return finish(ST_OK);
}

static void put_time(const char *key, i64 t) {
    put_str(key);
    if (t < 0) put_str("null");
    else put_i64(t);
}

static i32 cmd_inspect(const u8 *p, u32 n) {
    i32 st;
    Container *c = lookup(p, n, &st);
    if (!c) return st;
    begin();
    put_str("{\"id\":");
    put_json_str(c->id, c->id_len);
    put_str(",\"image\":");
    put_json_str(c->image, c->image_len);
    put_str(",\"state\":\"");
    put_str(state_name(c->state));
    put_str("\"");
    put_time(",\"created_at_ms\":", c->created_at);
    put_time(",\"started_at_ms\":", c->started_at);
    put_time(",\"stopped_at_ms\":", c->stopped_at);
    put_str(",\"restart_count\":");
    put_i64(c->restart_count);
    put_str(",\"runtime\":");
    /* The backend's view goes straight into the response buffer. */
    u32 cap = 256;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!reserve(cap)) return finish(ST_INTERNAL_ERROR);
        i32 got = host_inspect(c->id, c->id_len, resp + resp_len, cap);
        if (got < 0) return fail_effect(-got);
        if ((u32)got <= cap) {
            resp_len += (u32)got;
            put_str("}");
            return finish(ST_OK);
        }
        cap = (u32)got;
    }
    return fail(ST_INTERNAL_ERROR, "backend inspect result kept growing");
}

/* Ids separated by '\n'. */
static i32 cmd_list(u32 n) {
    if (n != 0) return fail(ST_INVALID_REQUEST, "list takes no payload");
    begin();
    for (u32 i = 0; i < n_containers; i++) {
        if (i) put("\n", 1);
        put(table[i].id, table[i].id_len);
    }
    return finish(ST_OK);
}

static i32 cmd_echo(const u8 *p, u32 n) {
    begin();
    put(p, n);
    return finish(ST_OK);
}

EXPORT("send_request") i32 send_request(const u8 *req, u32 len) {
    if (!in_memory((usize)req, len))
        return fail(ST_INVALID_REQUEST, "request lies outside linear memory");
    if (len < HEADER_LEN) return fail(ST_INVALID_REQUEST, "request shorter than its 5-byte header");
    u32 n = (u32)req[1] | (u32)req[2] << 8 | (u32)req[3] << 16 | (u32)req[4] << 24;
    if (n != len - HEADER_LEN)
        return fail(ST_INVALID_REQUEST, "payload length in the header does not match the request");
    const u8 *p = req + HEADER_LEN;
    switch (req[0]) {
    case CMD_CREATE: return cmd_create(p, n);
    case CMD_START: return transition(p, n, "start", 0, host_start, started);
    case CMD_STOP: return transition(p, n, "stop", 1, host_stop, stopped);
    case CMD_INSPECT: return cmd_inspect(p, n);
    case CMD_DELETE: return transition(p, n, "delete", 0, host_delete, deleted);
    case CMD_LIST: return cmd_list(n);
    case CMD_ECHO: return cmd_echo(p, n);
    default: return fail(ST_INVALID_REQUEST, "unknown command");
    }
}
