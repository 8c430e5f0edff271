-- In-memory key-value store with per-key time-to-live.
-- Expired entries are dropped lazily on read, and in bulk by sweep().

class Store
    new: (opts = {}) =>
        @clock = opts.clock or os.time
        @default_ttl = opts.ttl
        @data = {}
        @hits = 0
        @misses = 0

    expired: (entry, now = @clock!) =>
        entry.expires != nil and entry.expires <= now

    set: (key, value, ttl = @default_ttl) =>
        expires = ttl and @clock! + ttl
        @data[key] = { :value, :expires }
        value

    get: (key, fallback) =>
        entry = @data[key]
        if entry and @expired entry
            @data[key] = nil
            entry = nil
        if entry
            @hits += 1
            entry.value
        else
            @misses += 1
            fallback

    -- seconds left, -1 for keys that never expire, nil for missing keys
    ttl: (key) =>
        entry = @data[key]
        return nil unless entry and not @expired entry
        return -1 unless entry.expires
        entry.expires - @clock!

    touch: (key, ttl) =>
        entry = @data[key]
        return false unless entry and not @expired entry
        entry.expires = ttl and @clock! + ttl
        true

    delete: (key) =>
        existed = @data[key] != nil
        @data[key] = nil
        existed

    incr: (key, by = 1) =>
        current = @get key, 0
        error "value at #{key} is not a number" unless type(current) == "number"
        -- keep whatever expiry the key already had
        entry = @data[key]
        remaining = entry and entry.expires and entry.expires - @clock!
        @set key, current + by, remaining

    fetch: (key, ttl, producer) =>
        value = @get key
        return value if value != nil
        @set key, producer(key), ttl

    sweep: =>
        now = @clock!
        removed = 0
        for key, entry in pairs @data
            if @expired entry, now
                @data[key] = nil
                removed += 1
        removed

    -- a view whose methods transparently prefix every key
    namespace: (prefix) =>
        store = @
        setmetatable {}, __index: (_, method) ->
            (_, key, ...) -> store[method] store, "#{prefix}:#{key}", ...

-- demo with a hand-driven clock
now = 1000
store = Store clock: -> now
store\set "greeting", "hello"
store\set "session:abc", { user: 7 }, 30

sessions = store\namespace "session"
print "session user:", sessions\get("abc").user
counter = store\namespace "counter"
counter\incr "visits" for _ = 1, 3
print "visits:", counter\get "visits"

loads = 0
loader = (key) ->
    loads += 1
    "profile for #{key}"
store\fetch "profile:1", 60, loader for _ = 1, 5
print "loader ran #{loads} time(s)"

now += 31
print "session after 31s:", store\get "session:abc", "expired"
print "greeting ttl:", store\ttl "greeting"
store\set "temp", true, 5
now += 10
print "swept #{store\sweep!} stale entries"
print "hits=#{store.hits} misses=#{store.misses}"

{ :Store }
