-- ntg install script, part 01: the device training and generation run on (the setting ntg.device,
-- docs/gpu.md).

CREATE FUNCTION ntg.device_status(OUT setting text, OUT device text, OUT detail text,
								  OUT launches bigint)
	AS 'MODULE_PATHNAME', 'ntg_device_status'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ntg.device_status() IS
	'ntg.device, where it has training and generation run (cuda or cpu), the CUDA device this session found or why there is none, and the kernels it has run there';
