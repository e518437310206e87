#include "node/coordinator/cluster.h"
