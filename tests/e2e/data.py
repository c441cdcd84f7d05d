"""What the browser tests type into the forms, shared by the journeys that place orders."""

# A VAT special invoice profile, entered as 添加一个新开票 at checkout.
NEW_INVOICE = {
    "title": "上海云测贸易有限公司",
    "taxpayer_id": "91310000134511148L",
    "address": "上海市闵行区号景路206弄",
    "phone": "021-64000000",
    "bank": "招商银行上海分行",
    "account": "1219 0000 0000 0001",
    "contact": "王小明",
    "contact_phone": "139 0013 9000",
}
