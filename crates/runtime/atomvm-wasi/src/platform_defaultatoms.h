/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * AtomVM's core includes this header name from platform code only; the WASI
 * platform has a single platform atom, defined in wasi_platform.h.
 */

#ifndef ELIXIR_WORKERS_PLATFORM_DEFAULTATOMS_H
#define ELIXIR_WORKERS_PLATFORM_DEFAULTATOMS_H

#include "wasi_platform.h"

#endif
