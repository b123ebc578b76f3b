/*
 * model_device.c — where a model's work runs: the device mode (model.h) resolved against what the
 * process can use (nn_device.h), and the move of a model onto it.
 */
#include "models/model.h"
#include "nn/nn_device.h"
#include "nn/nn_quant.h"

#include <stdio.h>

int
ntg_device_resolve(NtgDeviceMode mode, const NnDeviceApi **dev, NtgError *err)
{
	NtgError	why;
	int			rc;

	*dev = NULL;
	if (mode == NTG_DEVICE_CPU)
		return NTG_OK;
	rc = nn_device_open(dev, NULL, &why);
	if (rc == NTG_OK || mode == NTG_DEVICE_AUTO)
		return NTG_OK;			/* AUTO without a device: the CPU */
	if (err != NULL)
	{
		*err = why;
		ntg_error_hint(err, "Set ntg.device to 'auto' or 'cpu' to run on the CPU.");
	}
	return NTG_ERR_NO_DEVICE;
}

int
ntg_model_set_device(NtgModel *model, NtgDeviceMode mode, NtgError *err)
{
	static int	warned;
	const NnDeviceApi *dev;
	NtgError	why;
	int			rc;

	/* the int8 kernels are the CPU's (nn_qgemm_x86.c): a quantized model stays there, like a
	 * kind without a device path */
	if (!(model->kind->caps & NTG_CAP_DEVICE) || model->quantization != NN_QUANT_NONE)
		return NTG_OK;
	if ((rc = ntg_device_resolve(mode, &dev, err)) != NTG_OK)
		return rc;
	if (dev == model->device)
		return NTG_OK;
	if ((rc = model->kind->set_device(model, dev, &why)) == NTG_OK)
		return NTG_OK;
	if (mode != NTG_DEVICE_AUTO || dev == NULL)
	{
		if (err != NULL)
			*err = why;
		return rc;
	}
	if (!warned)
		ntg_log(NTG_LOG_WARNING, "the CUDA device could not take the model, running on the CPU: %s%s%s",
				why.msg, why.detail[0] ? " " : "", why.detail);
	warned = 1;
	return model->kind->set_device(model, NULL, err);
}

const char *
ntg_model_device_name(const NtgModel *model)
{
	static char name[128];
	const NnDeviceApi *api;
	NnDeviceInfo info;

	if (model->device == NULL || nn_device_open(&api, &info, NULL) != NTG_OK)
		return "cpu";
	snprintf(name, sizeof(name), "cuda (%s)", info.name);
	return name;
}
