// The core's shorthands, for server/vault's own .cc files only (the adapter and tests use the
// qualified names): the storage and policy words every use case speaks.
#ifndef KLUIS_SERVER_VAULT_INTERNAL_H_
#define KLUIS_SERVER_VAULT_INTERNAL_H_

#include "policies/decide.h"
#include "policies/roles.h"
#include "server/storage/rows.h"

namespace kluis::storage {
class Tx;
}  // namespace kluis::storage

namespace kluis::server {

using policies::Action;
using policies::AdminAction;
using policies::Decision;
using storage::AccountRow;
using storage::Tx;

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_INTERNAL_H_
