#include "node/model_source.h"
