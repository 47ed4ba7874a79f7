"""The banks an owner can name for direct debit (银行代扣): the large mainland banks and the
property's local one. The deduction file carries the name as written here."""

CN_BANKS: tuple[str, ...] = (
    "中国工商银行",
    "中国农业银行",
    "中国银行",
    "中国建设银行",
    "交通银行",
    "招商银行",
    "上海浦东发展银行",
    "兴业银行",
    "中信银行",
    "中国民生银行",
    "中国光大银行",
    "平安银行",
    "上海银行",
    "中国邮政储蓄银行",
)
