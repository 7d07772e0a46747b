#pragma once
// The umbrella header: the cache, its options and types, the Store and Embedder concepts, the
// built-in HashingEmbedder, CachingEmbedder and AnyEmbedder. Stores and the other embedders have their own
// headers and targets:
//   <engram/stores/dict_store.hpp>         engram::dict
//   <engram/stores/sqlite_store.hpp>       engram::sqlite
//   <engram/stores/redis_store.hpp>        engram::redis
//   <engram/embedders/http_embedder.hpp>   engram::http

#include "engram/embedder.hpp"
#include "engram/embedders/any_embedder.hpp"
#include "engram/embedders/caching_embedder.hpp"
#include "engram/embedders/hashing_embedder.hpp"
#include "engram/errors.hpp"
#include "engram/hash.hpp"
#include "engram/normalize.hpp"
#include "engram/options.hpp"
#include "engram/prometheus.hpp"
#include "engram/semantic_cache.hpp"
#include "engram/store.hpp"
#include "engram/types.hpp"
