/*
 * forest_kind.h — the Random Forest as a model kind ("random_forest"): the classifier of
 * forest/forest.h behind the NtgModelKind interface, so that it is trained, stored, loaded,
 * cached and described like every other kind.
 */
#ifndef NTG_FOREST_KIND_H
#define NTG_FOREST_KIND_H

#include "forest/forest.h"
#include "models/model.h"

extern const NtgModelKind ntg_forest_kind;

typedef struct ForestModel
{
	NtgModel	base;
	NtgForestConfig cfg;
	NtgForest	forest;			/* empty until trained */
	char	   *stored_config;	/* a loaded forest's config JSON, as stored */
} ForestModel;

/* The forest inside a model of this kind. */
static inline const NtgForest *
ntg_forest_of(const NtgModel *model)
{
	return &((const ForestModel *) model)->forest;
}

#endif							/* NTG_FOREST_KIND_H */
